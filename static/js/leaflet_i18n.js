/* Leaflet's and Leaflet.draw's own texts (button titles, drawing hints) in
 * the page's language, for the map widgets of forms: the admin's sensor
 * location and district boundary. Loaded after Leaflet.draw through
 * django-leaflet's "forms" plugin (LEAFLET_CONFIG["PLUGINS"]), before any
 * map is built, so every control takes these texts when it is created.
 *
 * The texts come from the djangojs catalogue, which the admin's jsi18n
 * serves too (Django adds LOCALE_PATHS to every catalogue). django-leaflet's
 * own translations of the drawing texts (its leaflet_draw_i18n tag) never
 * reach the admin widget: its script applies them only when the page carries
 * the "with-forms" flag of the leaflet_js tag, which the admin does not use;
 * nor has django-leaflet a Chinese catalogue. */
(function () {
  "use strict";

  const L = window.L;
  // Without a catalogue (a page that loads no jsi18n) Leaflet keeps its English.
  if (!L || typeof window.gettext !== "function") return;
  const gettext = window.gettext;

  L.Control.Zoom.mergeOptions({ zoomInTitle: gettext("Zoom in"), zoomOutTitle: gettext("Zoom out") });

  // Leaflet writes the layer switcher's title in _initLayout, with no option for it.
  const initLayersLayout = L.Control.Layers.prototype._initLayout;
  L.Control.Layers.include({
    _initLayout() {
      initLayersLayout.call(this);
      this._layersLink.title = gettext("Layers");
    },
  });

  if (L.Control.ResetView) L.Control.ResetView.TITLE = gettext("Reset view");
  if (L.GeometryField) L.GeometryField.unsavedText = gettext("Map geometry is unsaved");

  if (!L.drawLocal) return;
  const draw = L.drawLocal.draw;
  const edit = L.drawLocal.edit;
  Object.assign(draw.toolbar.actions, { title: gettext("Cancel drawing"), text: gettext("Cancel") });
  Object.assign(draw.toolbar.finish, { title: gettext("Finish drawing"), text: gettext("Finish") });
  Object.assign(draw.toolbar.undo, { title: gettext("Delete last point drawn"), text: gettext("Delete last point") });
  Object.assign(draw.toolbar.buttons, {
    polyline: gettext("Draw a polyline"),
    polygon: gettext("Draw a polygon"),
    rectangle: gettext("Draw a rectangle"),
    circle: gettext("Draw a circle"),
    marker: gettext("Draw a marker"),
    circlemarker: gettext("Draw a circlemarker"),
  });
  const handlers = draw.handlers;
  handlers.circle.tooltip.start = gettext("Click and drag to draw circle.");
  handlers.circle.radius = gettext("Radius");
  handlers.circlemarker.tooltip.start = gettext("Click map to place circle marker.");
  handlers.marker.tooltip.start = gettext("Click map to place marker.");
  Object.assign(handlers.polygon.tooltip, {
    start: gettext("Click to start drawing shape."),
    cont: gettext("Click to continue drawing shape."),
    end: gettext("Click first point to close this shape."),
  });
  handlers.polyline.error = gettext("<strong>Error:</strong> shape edges cannot cross!");
  Object.assign(handlers.polyline.tooltip, {
    start: gettext("Click to start drawing line."),
    cont: gettext("Click to continue drawing line."),
    end: gettext("Click last point to finish line."),
  });
  handlers.rectangle.tooltip.start = gettext("Click and drag to draw rectangle.");
  handlers.simpleshape.tooltip.end = gettext("Release mouse to finish drawing.");

  const actions = edit.toolbar.actions;
  Object.assign(actions.save, { title: gettext("Save changes"), text: gettext("Save") });
  Object.assign(actions.cancel, { title: gettext("Cancel editing, discards all changes"), text: gettext("Cancel") });
  Object.assign(actions.clearAll, { title: gettext("Clear all layers"), text: gettext("Clear All") });
  Object.assign(edit.toolbar.buttons, {
    edit: gettext("Edit layers"),
    editDisabled: gettext("No layers to edit"),
    remove: gettext("Delete layers"),
    removeDisabled: gettext("No layers to delete"),
  });
  edit.handlers.edit.tooltip.text = gettext("Drag handles or markers to edit features.");
  edit.handlers.edit.tooltip.subtext = gettext("Click cancel to undo changes.");
  edit.handlers.remove.tooltip.text = gettext("Click on a feature to remove.");
})();
