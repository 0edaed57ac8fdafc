/* What the city has around a warning, as map layers: protection targets, emergency resources,
 * the four-colour risk areas and cameras (/api/v1/surroundings/<layer>/?bbox=). Off until the
 * duty officer turns one on in the layer control; a layer that is on follows the view.
 * Names and contacts are stored text: popups are DOM nodes filled with textContent. */
import { CS, L, gettext, config, urls } from "./state.js";
import { map, layersControl } from "./layers.js";

const LAYERS = [
  { key: "targets", title: gettext("Protection targets"), group: "targetKind" },
  { key: "resources", title: gettext("Emergency resources"), group: "resourceKind" },
  { key: "risk-areas", title: gettext("Risk areas (four-colour map)"), group: "riskGrade" },
  { key: "cameras", title: gettext("Cameras"), group: null },
];

export const surroundings = {}; // layer key → {spec, group (Leaflet), on, loads, controller}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

function line(popup, label, value) {
  if (value == null || value === "") return;
  const row = element("div", "row");
  row.append(element("span", "label", label), element("span", "value", String(value)));
  popup.append(row);
}

/** The popup of one place, built from DOM nodes: nothing stored reaches Leaflet as markup. */
export function popupNode(spec, props) {
  const node = element("div", "surroundings-popup");
  node.dataset.layer = spec.key;
  node.append(element("h4", "name", props.name));
  const kindGroup = spec.key === "risk-areas" ? "riskAreaKind" : spec.group;
  if (kindGroup) line(node, gettext("Kind"), CS.label(kindGroup, props.kind));
  if (spec.key === "risk-areas") {
    line(node, gettext("Risk grade"), CS.label("riskGrade", props.grade));
    line(node, gettext("Assessed on"), props.assessed_on);
  }
  line(node, gettext("Code"), props.code);
  line(node, gettext("District"), props.district);
  line(node, gettext("Address"), props.address);
  line(node, gettext("Capacity"), props.capacity);
  line(node, gettext("Team size"), props.team_size);
  line(node, gettext("Speciality"), props.speciality);
  if (props.stock && Object.keys(props.stock).length) {
    line(node, gettext("Stock"), Object.entries(props.stock).map(([item, n]) => `${item} ${n}`).join(gettext(", ")));
  }
  line(node, gettext("Contact"), [props.contact_name, props.contact_phone].filter(Boolean).join(" "));
  line(node, gettext("HLS stream"), props.stream_url);
  return node;
}

function colourOf(spec, props) {
  if (spec.key === "cameras") return config.cameraColour;
  return CS.colour(spec.group, spec.key === "risk-areas" ? props.grade : props.kind);
}

function draw(entry, collection) {
  const { spec, group } = entry;
  group.clearLayers();
  const layer = L.geoJSON(collection, {
    style: (feature) => {
      const colour = colourOf(spec, feature.properties);
      return { color: colour, weight: 1.5, fillColor: colour, fillOpacity: 0.3 };
    },
    pointToLayer: (feature, latlng) => {
      const colour = colourOf(spec, feature.properties);
      return L.circleMarker(latlng, { radius: 6, color: "#0b1324", weight: 1.5, fillColor: colour, fillOpacity: 1 });
    },
    onEachFeature: (feature, item) => {
      item.bindPopup(() => popupNode(spec, feature.properties), { className: "surroundings-popup-wrap" });
      item.on("add", () => {
        const path = item.getElement && item.getElement();
        if (path) path.setAttribute("data-code", feature.properties.code);
      });
    },
  });
  layer.addTo(group);
  entry.features = collection.features.length;
  entry.loads += 1;
}

export async function loadSurroundings(key) {
  const entry = surroundings[key];
  if (!entry || !entry.on) return;
  if (entry.controller) entry.controller.abort();
  entry.controller = new AbortController();
  const bounds = map.getBounds().pad(0.2);
  const bbox = [bounds.getWest(), bounds.getSouth(), bounds.getEast(), bounds.getNorth()].map((n) => n.toFixed(5)).join(",");
  try {
    const collection = await CS.api(`${urls.surroundings[key]}?bbox=${bbox}`, { signal: entry.controller.signal });
    draw(entry, collection);
  } catch (error) {
    if (error.name !== "AbortError") entry.error = String(error.message || error);
  }
}

const Legend = L.Control.extend({
  options: { position: "bottomright" },
  onAdd() {
    const node = L.DomUtil.create("div", "map-legend surroundings-legend");
    L.DomEvent.disableClickPropagation(node);
    return node;
  },
});
const legend = new Legend();

/** The legend lists the kinds of the layers that are on, each in its colour (from the config). */
function renderLegend() {
  const on = LAYERS.filter((spec) => surroundings[spec.key].on);
  if (!on.length) {
    legend.remove();
    return;
  }
  if (!legend._map) legend.addTo(map);
  const node = legend.getContainer();
  node.replaceChildren();
  for (const spec of on) {
    node.append(element("h4", null, spec.title));
    const entries = spec.group ? CS.values(spec.group).map((value) => [CS.colour(spec.group, value), CS.label(spec.group, value)]) : [[config.cameraColour, spec.title]];
    for (const [colour, label] of entries) {
      const row = element("div", "row");
      const dot = element("span", "dot");
      dot.style.background = colour;
      row.append(dot, element("span", null, label));
      node.append(row);
    }
  }
}

for (const spec of LAYERS) {
  const group = L.layerGroup();
  surroundings[spec.key] = { spec, group, on: false, loads: 0, features: 0, controller: null, error: null };
  layersControl.addOverlay(group, spec.title);
}

map.on("overlayadd overlayremove", (event) => {
  const entry = Object.values(surroundings).find((candidate) => candidate.group === event.layer);
  if (!entry) return;
  entry.on = event.type === "overlayadd";
  if (entry.on) loadSurroundings(entry.spec.key);
  renderLegend();
});
map.on("moveend", () => {
  for (const entry of Object.values(surroundings)) if (entry.on) loadSurroundings(entry.spec.key);
});
