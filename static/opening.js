// The live opening page: counts the decryption window down and refreshes each bid's state
// from the opening API every few seconds; reloads the page once the opening has ended.
(function () {
  "use strict";
  var root = document.getElementById("opening");
  if (!root) { return; }
  var api = root.dataset.api;
  var labels = JSON.parse(root.dataset.labels || "{}");
  var status = root.dataset.status;
  var ends = root.dataset.ends ? Date.parse(root.dataset.ends) : null;
  // The server clock decides: keep the offset between it and this machine's clock.
  var skew = Date.parse(root.dataset.now) - Date.now();
  var countdown = document.getElementById("countdown");
  var english = (document.documentElement.lang || "").indexOf("en") === 0;

  // A bid's detail comes as "中文 / English": the page's language only, as the server renders it.
  function pick(text) {
    var at = text.indexOf(" / ");
    if (at < 0) { return text; }
    return english ? text.slice(at + 3) : text.slice(0, at);
  }

  function tick() {
    if (!countdown || ends === null) { return; }
    var left = Math.max(0, Math.floor((ends - (Date.now() + skew)) / 1000));
    var m = Math.floor(left / 60), s = left % 60;
    countdown.textContent = left > 0 ? m + ":" + (s < 10 ? "0" : "") + s : "0:00";
  }

  function refresh() {
    fetch(api, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        if (data.status !== status) { window.location.reload(); return; }
        document.getElementById("shares").textContent = data.shares.submitted;
        if (data.decryption_ends_at) { ends = Date.parse(data.decryption_ends_at); }
        data.bids.forEach(function (bid) {
          var row = document.querySelector('tr[data-bid="' + bid.bid_id + '"]');
          if (!row) { window.location.reload(); return; }
          var state = row.querySelector(".state");
          state.textContent = labels[bid.decryption] || bid.decryption;
          state.className = "state " + bid.decryption;
          row.querySelector(".price").textContent = bid.price
            ? "¥" + Number(bid.price).toLocaleString("zh-CN", {minimumFractionDigits: 2}) : "";
          row.querySelector(".detail").textContent = pick(bid.detail || "");
        });
      })
      .catch(function () { /* the next poll tries again */ });
  }

  tick();
  setInterval(tick, 1000);
  if (status === "opening" || status === "published" || status === "suspended") {
    setInterval(refresh, 5000);
  }
})();
