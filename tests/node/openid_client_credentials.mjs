// openid-client (a certified OpenID relying party) as a second opinion on Writ's discovery
// document and token endpoint: discovery from the issuer URL (openid-client checks that the
// document's issuer is the URL it was asked for), then client credentials with
// client_secret_post. Reads WRIT_URL, WRIT_TENANT_ID, WRIT_CLIENT_ID, WRIT_CLIENT_SECRET; trusts
// Writ's CA through NODE_EXTRA_CA_CERTS. Prints one JSON line. Run by
// tests/e2e/test_client_libraries.py.
import * as client from "openid-client";

const issuer = new URL(`${process.env.WRIT_URL}/${process.env.WRIT_TENANT_ID}/v2.0`);
const config = await client.discovery(
  issuer,
  process.env.WRIT_CLIENT_ID,
  undefined,
  client.ClientSecretPost(process.env.WRIT_CLIENT_SECRET),
);
const metadata = config.serverMetadata();
const tokens = await client.clientCredentialsGrant(config, {
  scope: "https://graph.microsoft.com/.default",
});
console.log(JSON.stringify({
  issuer: metadata.issuer,
  token_endpoint: metadata.token_endpoint,
  access_token: tokens.access_token,
  token_type: tokens.token_type,
  expires_in: tokens.expiresIn(),
}));
