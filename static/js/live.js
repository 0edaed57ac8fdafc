/* CitySafety live feed: one websocket per page, its state always visible.
 *
 * The socket reconnects with exponential backoff and jitter. Every
 * (re)connection fires "connected"; pages answer by resyncing from the API,
 * because messages sent while the socket was down are gone (the database,
 * not Redis, is the source of truth). Messages that arrive while a resync
 * is loading are queued and applied after it, in order, so the page ends at
 * the newest state whichever came first.
 *
 * Exposed as window.citysafetyLive (the socket is .socket) for operators'
 * consoles and the browser tests.
 */
(function () {
  "use strict";

  const { gettext } = window.CS;

  const BACKOFF_FIRST_MS = 500;
  const BACKOFF_MAX_MS = 15000;
  // After this many failed attempts in a row the indicator says "offline".
  const OFFLINE_AFTER_ATTEMPTS = 5;
  const PING_EVERY_MS = 20000;
  // No message at all (not even a pong) for this long: the connection is dead
  // even if the browser has not noticed (a NAT dropped it, a laptop slept).
  const SILENCE_LIMIT_MS = PING_EVERY_MS + 10000;

  const LABELS = {
    connecting: gettext("Connecting…"),
    connected: gettext("Live"),
    reconnecting: gettext("Reconnecting…"),
    offline: gettext("Offline, retrying"),
    signedout: gettext("Signed out"),
  };
  const TITLES = {
    connecting: gettext("Opening the live connection."),
    connected: gettext("Live: updates arrive as they happen."),
    reconnecting: gettext("The live connection dropped; reconnecting. The page resyncs once it is back."),
    offline: gettext("The server cannot be reached; the page keeps trying. What you see may be out of date."),
    signedout: gettext("Your session has ended. Sign in again to receive updates."),
  };

  // Sockets whose handshake succeeded (a refused one closes without opening).
  const opened = new WeakSet();

  class Live extends EventTarget {
    constructor({ path = "/ws/live/", indicator = null } = {}) {
      super();
      this.path = path;
      this.indicator = indicator;
      this.socket = null;
      this.state = "connecting";
      this.hello = null;
      this.attempts = 0;
      this.everConnected = false;
      this.held = false;
      this.retryTimer = null;
      this.retryAt = null;
      this.pingTimer = null;
      this.lastMessageAt = 0;
      this.syncing = null;
      this.queue = [];
    }

    get url() {
      const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
      return `${scheme}//${window.location.host}${this.path}`;
    }

    start() {
      window.addEventListener("online", () => this.reconnectNow());
      window.addEventListener("offline", () => {
        if (this.state !== "connected") this.setState("offline");
      });
      document.addEventListener("visibilitychange", () => {
        if (document.visibilityState === "visible" && !this.socket) this.reconnectNow();
      });
      this.connect();
      return this;
    }

    setState(state) {
      this.state = state;
      if (this.indicator) {
        this.indicator.dataset.state = state === "signedout" ? "offline" : state;
        this.indicator.title = TITLES[state];
        const label = this.indicator.querySelector(".live-label");
        if (label) label.textContent = LABELS[state];
      }
      this.dispatchEvent(new CustomEvent("state", { detail: { state } }));
    }

    connect() {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
      if (this.held) return;
      this.setState(this.everConnected || this.attempts ? (this.attempts > OFFLINE_AFTER_ATTEMPTS ? "offline" : "reconnecting") : "connecting");
      let socket;
      try {
        socket = new WebSocket(this.url);
      } catch (_error) {
        this.scheduleReconnect();
        return;
      }
      this.socket = socket;
      socket.addEventListener("open", () => opened.add(socket));
      socket.addEventListener("message", (event) => this.onMessage(socket, event));
      socket.addEventListener("close", (event) => this.onClose(socket, event));
    }

    onMessage(socket, event) {
      if (socket !== this.socket) return;
      this.lastMessageAt = Date.now();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (_error) {
        return;
      }
      if (message.type === "hello") {
        const resync = this.everConnected;
        this.hello = message;
        this.attempts = 0;
        this.everConnected = true;
        this.startHeartbeat(socket);
        this.setState("connected");
        this.dispatchEvent(new CustomEvent("connected", { detail: { hello: message, resync } }));
        return;
      }
      if (message.type === "pong") return;
      if (this.syncing) this.queue.push(message);
      else this.dispatchEvent(new CustomEvent("message", { detail: message }));
    }

    onClose(socket, event) {
      if (socket !== this.socket) return;
      this.socket = null;
      this.stopHeartbeat();
      if (event.code === 4401) {
        this.signOut();
        return;
      }
      this.dispatchEvent(new CustomEvent("disconnected", { detail: { code: event.code } }));
      // A handshake the server refuses (the session has ended: logged out
      // elsewhere, expired) reaches the browser as a bare 1006, like a network
      // failure. Ask the page itself: a redirect to the login page settles it.
      if (!opened.has(socket) && !this.held) {
        this.checkSession().then((signedIn) => {
          // Something reconnected (or held the feed) while the probe ran.
          if (this.socket || this.held || this.retryTimer) return;
          if (signedIn) this.scheduleReconnect();
          else this.signOut();
        });
        return;
      }
      this.scheduleReconnect();
    }

    /** Resolves false only when the server answers that the session has ended. */
    async checkSession() {
      try {
        const response = await fetch(window.location.pathname, {
          method: "HEAD",
          credentials: "same-origin",
          redirect: "manual",
          cache: "no-store",
        });
        return !(response.type === "opaqueredirect" || response.status === 401 || response.status === 403);
      } catch (_error) {
        return true; // the network is down: keep retrying
      }
    }

    signOut() {
      // The server refused the session: retrying cannot help.
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
      this.setState("signedout");
      this.dispatchEvent(new CustomEvent("signedout"));
    }

    scheduleReconnect() {
      this.attempts += 1;
      const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (this.attempts - 1));
      const delay = Math.round(base * (0.75 + Math.random() * 0.5));
      const offline = navigator.onLine === false || this.attempts > OFFLINE_AFTER_ATTEMPTS;
      this.setState(offline ? "offline" : "reconnecting");
      this.retryAt = Date.now() + delay;
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.connect(), delay);
    }

    reconnectNow() {
      if (this.socket || this.held || this.state === "signedout") return;
      this.connect();
    }

    startHeartbeat(socket) {
      this.stopHeartbeat();
      this.pingTimer = setInterval(() => {
        if (socket !== this.socket) return;
        if (Date.now() - this.lastMessageAt > SILENCE_LIMIT_MS) {
          socket.close(4000, "silent");
          return;
        }
        try {
          socket.send(JSON.stringify({ type: "ping" }));
        } catch (_error) {
          /* close follows */
        }
      }, PING_EVERY_MS);
    }

    stopHeartbeat() {
      clearInterval(this.pingTimer);
      this.pingTimer = null;
    }

    /** Drop the connection and stay away until release(): a test hook for "the network is gone". */
    hold() {
      this.held = true;
      clearTimeout(this.retryTimer);
      if (this.socket) this.socket.close(4000, "held");
      else this.setState("reconnecting");
    }

    release() {
      this.held = false;
      if (!this.socket) this.connect();
    }

    /**
     * Run a page's resync; live messages wait in a queue meanwhile and are
     * delivered (as "message" events) once it has finished, in order.
     */
    async sync(load) {
      const run = (async () => load())();
      this.syncing = run;
      try {
        return await run;
      } finally {
        if (this.syncing === run) {
          this.syncing = null;
          const queued = this.queue;
          this.queue = [];
          for (const message of queued) this.dispatchEvent(new CustomEvent("message", { detail: message }));
        }
      }
    }
  }

  window.CS.Live = Live;
  window.CS.startLive = () => {
    const live = new Live({ indicator: document.getElementById("live-status") });
    window.citysafetyLive = live;
    // The bell (notifications.js) listens on the page's socket.
    document.dispatchEvent(new CustomEvent("cs:live", { detail: live }));
    live.addEventListener("signedout", () => {
      window.CS.toast(gettext("Your session has ended. Sign in again to receive updates."), { kind: "error", timeout: 15000 });
    });
    return live;
  };
})();
