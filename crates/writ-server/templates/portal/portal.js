// Writ portal, progressive enhancement (no build step, no dependency; the pages work without
// it): every <time class="when" datetime="…"> is shown in the browser's time zone, with the
// UTC instant the server rendered kept beside it.
(function () {
  "use strict";
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  if (!zone || zone === "UTC" || zone === "Etc/UTC") {
    return;
  }
  var format = new Intl.DateTimeFormat(undefined, {
    weekday: "short", day: "numeric", month: "short", year: "numeric",
    hour: "2-digit", minute: "2-digit", timeZoneName: "short"
  });
  var times = document.querySelectorAll("time.when[datetime]");
  for (var i = 0; i < times.length; i++) {
    var element = times[i];
    var at = new Date(element.getAttribute("datetime"));
    if (isNaN(at.getTime())) {
      continue;
    }
    var utc = document.createElement("span");
    utc.className = "utc";
    utc.textContent = " (" + element.textContent + ")";
    element.textContent = format.format(at);
    element.parentNode.insertBefore(utc, element.nextSibling);
  }
})();
