/* The red banner over the map while a background process has stopped.
 *
 * A platform that silently stopped evaluating is the worst failure a
 * monitoring platform can have: the duty officer must see it. The banner
 * names each kind of process that ran and stopped (its heartbeats went stale
 * or it shut down), with since when. A kind that never ran here ("missing":
 * a city without MQTT gateways runs no bridge) is readiness's to report
 * (/readyz), not the duty officer's.
 */
import { CS, t, gettext, urls, HEALTH_CHECK_MS } from "./state.js";

const DOWN = new Set(["stale", "stopped", "failing"]);
const banner = document.getElementById("health-banner");

function render(health) {
  const down = health.processes.filter((kind) => DOWN.has(kind.state));
  banner.replaceChildren(
    ...down.map((kind) => {
      const line = document.createElement("p");
      line.dataset.process = kind.kind;
      const since = kind.since ? " " + t(gettext("(since %(time)s)"), { time: CS.fmt.dateTime(kind.since) }) : "";
      line.textContent = kind.message + since;
      return line;
    }),
  );
  banner.hidden = down.length === 0;
}

/** Ask once; a failed request leaves the banner as it was (the live indicator tells of a lost server). */
export async function checkHealth() {
  try {
    render(await CS.api(urls.health));
  } catch {
    /* tried again at the next interval */
  }
}

export function watchHealth() {
  checkHealth();
  setInterval(checkHealth, HEALTH_CHECK_MS);
}
