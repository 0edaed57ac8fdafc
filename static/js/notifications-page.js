/* The notifications page: its own live socket, so the bell and the toasts follow new notifications here too. */
(function () {
  "use strict";
  window.CS.startLive().start();
})();
