/* The bell: the unread count, and a toast for each notification pushed live.
 *
 * Listens on the page's live socket (live.js announces it with "cs:live");
 * a page without one shows the count it was rendered with. The text comes
 * in every language of the platform; the page picks its own.
 */
(function () {
  "use strict";

  const CS = window.CS;
  const lang = (document.documentElement.lang || "zh-hans").toLowerCase();

  function setCount(count) {
    const bell = document.getElementById("bell");
    const badge = document.getElementById("bell-count");
    if (!bell || !badge) return;
    bell.dataset.unread = String(count);
    badge.textContent = count > 99 ? "99+" : String(count);
    badge.hidden = !count;
  }

  function textOf(notification) {
    const text = notification.text || {};
    if (typeof text === "string") return text;
    return text[lang] || text["zh-hans"] || Object.values(text)[0] || "";
  }

  async function refreshCount() {
    const bell = document.getElementById("bell");
    if (!bell) return;
    try {
      const response = await fetch(bell.dataset.countUrl || "/api/v1/notifications/unread-count/", {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (response.ok) setCount((await response.json()).unread);
    } catch (_error) {
      /* the next push or reconnect corrects it */
    }
  }

  function listen(live) {
    if (!live || live.__bell) return;
    live.__bell = true;
    live.addEventListener("message", (event) => {
      const message = event.detail;
      if (message.type !== "notification.created") return;
      const notification = message.notification;
      if (typeof notification.unread === "number") setCount(notification.unread);
      const level = CS.choice && CS.choice("level", notification.level);
      CS.toast(textOf(notification), {
        colour: level ? level.colour : "",
        timeout: 12000,
        subject: notification.subject || "",
        prefer: true,
      });
      document.dispatchEvent(new CustomEvent("cs:notification", { detail: notification }));
    });
    // Pushes missed while the socket was down: the count is read again.
    live.addEventListener("connected", (event) => {
      if (event.detail && event.detail.resync) refreshCount();
    });
  }

  document.addEventListener("cs:live", (event) => listen(event.detail));
  document.addEventListener("DOMContentLoaded", () => listen(window.citysafetyLive));
  CS.bell = { setCount, refreshCount };
})();
