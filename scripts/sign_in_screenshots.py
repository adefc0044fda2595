"""Drives headless chromium through Writ's sign-in pages (scripts/sign-in-screenshots.sh)."""
import base64, hashlib, os, secrets, sys, tempfile, time

import httpx
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
BASE, LOG, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
CLI = "a8d5e6f0-4c3b-4f7a-9d21-77717e000001"
PROFILES = tempfile.mkdtemp()
os.makedirs(OUT, exist_ok=True)
printed = dict(line.strip().split(":", 1) for line in open(LOG) if line.startswith("  ") and ":" in line)
TID = printed["tenant id"].strip()
admin = httpx.post(f"{BASE}/oauth2/v2.0/token", data={
    "grant_type": "client_credentials", "client_id": printed["client id"].strip(),
    "client_secret": printed["client secret"].strip(), "scope": "https://graph.microsoft.com/.default",
}).json()["access_token"]
httpx.post(f"{BASE}/v1.0/users", headers={"Authorization": f"Bearer {admin}"}, json={
    "displayName": "Sam Sponsor", "userPrincipalName": "sam@example.org", "mailNickname": "sam",
    "accountEnabled": True, "passwordProfile": {"password": "a long passphrase 1"},
}).raise_for_status()
def driver(w,h,js=True):
    o=webdriver.ChromeOptions(); o.binary_location="/usr/bin/chromium"
    for a in ["--headless=new","--no-sandbox","--disable-dev-shm-usage","--disable-gpu",f"--window-size={w},{h}",f"--user-data-dir={PROFILES}/p{w}{js}"]: o.add_argument(a)
    if not js: o.add_experimental_option("prefs",{"profile.managed_default_content_settings.javascript":2})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"),options=o)
def shot(d,name,tag): time.sleep(0.4); d.save_screenshot(f"{OUT}/{name}-{tag}.png")
for (w,h,tag) in [(1280,800,"desktop"),(390,844,"phone")]:
    dc=httpx.post(f"{BASE}/common/oauth2/v2.0/devicecode",data={"client_id":CLI,"scope":"https://graph.microsoft.com/.default offline_access"}).json()
    d=driver(w,h)
    d.get(BASE+"/devicelogin"); shot(d,"sign-in",tag)
    d.find_element(By.ID,"username").send_keys("sam@example.org"); d.find_element(By.ID,"password").send_keys("wrong")
    d.find_element(By.CSS_SELECTOR,"form button[type=submit]").click(); shot(d,"sign-in-error",tag)
    d.find_element(By.ID,"password").send_keys("a long passphrase 1"); d.find_element(By.CSS_SELECTOR,"form button[type=submit]").click(); shot(d,"device-code",tag)
    d.find_element(By.ID,"user_code").send_keys(dc["user_code"]); d.find_element(By.CSS_SELECTOR,"form button[type=submit]").click(); shot(d,"device-consent",tag)
    d.find_element(By.CSS_SELECTOR,"button[value=approve]").click(); shot(d,"device-approved",tag)
    d.get(f"{BASE}/{TID}/oauth2/v2.0/logout"); shot(d,"sign-out",tag)
    d.find_element(By.CSS_SELECTOR,"form button[type=submit]").click(); shot(d,"signed-out",tag)
    d.get(f"{BASE}/{TID}/oauth2/v2.0/authorize?client_id={CLI}&redirect_uri=https%3A%2F%2Fevil.example%2F&response_type=code"); shot(d,"authorize-bad-redirect",tag)
    d.quit()
    # form_post and the redirect page, as a signed-in browser sees them (script off so the page stays).
    d=driver(w,h,js=False)
    d.get(BASE+"/devicelogin")
    d.find_element(By.ID,"username").send_keys("sam@example.org"); d.find_element(By.ID,"password").send_keys("a long passphrase 1")
    d.find_element(By.CSS_SELECTOR,"form button[type=submit]").click(); time.sleep(0.4)
    v=secrets.token_urlsafe(40); c=base64.urlsafe_b64encode(hashlib.sha256(v.encode()).digest()).rstrip(b"=").decode()
    d.get(f"{BASE}/{TID}/oauth2/v2.0/authorize?client_id={CLI}&redirect_uri=http%3A%2F%2Flocalhost%3A8400&response_type=code&response_mode=form_post&state=s&code_challenge={c}&code_challenge_method=S256&scope=openid")
    shot(d,"form-post",tag)
    d.quit()
print(f"screenshots in {OUT}")
