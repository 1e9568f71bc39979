// The game's catalog, as the server defines it: seats, handshake variants and their steps,
// scenarios and the variants each is staged for, difficulties, and a label for every step
// id. It comes from `GET /catalog.json` (handshake_game/game/catalog.py, the one table);
// the pages keep no copy of these names and ask here instead.
//
// `loadCatalog()` fetches it once per page (every caller shares the one request) and
// resolves to the catalog; the helpers below read the loaded catalog and fall back to the
// bare id until it is there (or if it could not be loaded), so a page always shows something.

const EMPTY = Object.freeze({ seats: [], variants: [], scenarios: [], difficulties: [], step_labels: {} });

let current = EMPTY;
let loading = null;

export function loadCatalog() {
  loading ??= fetch("/catalog.json", { headers: { Accept: "application/json" } })
    .then((response) => {
      if (!response.ok) throw new Error(`the catalog could not be loaded (HTTP ${response.status})`);
      return response.json();
    })
    .then((catalog) => {
      current = { ...EMPTY, ...catalog };
      return current;
    });
  return loading;
}

export const seats = () => current.seats;
// The seats in the catalog's order (client, server, CA, eavesdropper), as ids; until the
// catalog is there, `fallback` (the seats a view or a table names).
export const seatIds = (fallback = []) => (current.seats.length ? current.seats.map((seat) => seat.id) : [...fallback]);
export const seatName = (id) => current.seats.find((seat) => seat.id === id)?.name ?? String(id ?? "");
export const isSeat = (id) => current.seats.some((seat) => seat.id === id);

// A step's label: the variant's own when the variant is given and names the step (a step id
// can read differently per handshake), else the catalog's label for the id, else the id.
export function stepLabel(id, variantId = null) {
  const own = current.variants.find((variant) => variant.id === variantId)?.steps.find((step) => step.id === id);
  if (own) return own.label;
  return Object.hasOwn(current.step_labels, id) ? current.step_labels[id] : String(id ?? "");
}

export const variants = () => current.variants;

export const scenarios = () => current.scenarios;
// The scenarios a table of this variant can play (the server refuses the others).
export const scenariosFor = (variantId) => current.scenarios.filter((scenario) => scenario.variants.includes(variantId));

export const difficulties = () => current.difficulties;

// Fill a <select> with `items` ({id, ...}) labelled by `label(item)`, keeping the chosen value
// when it is still offered, else choosing `fallback` (an id) when it is offered.
export function fillSelect(select, items, label, fallback = null) {
  const chosen = select.value;
  select.replaceChildren(...items.map((item) => {
    const option = document.createElement("option");
    option.value = item.id;
    option.textContent = label(item);
    return option;
  }));
  const ids = items.map((item) => item.id);
  if (ids.includes(chosen)) select.value = chosen;
  else if (fallback !== null && ids.includes(fallback)) select.value = fallback;
}

// How a scenario is offered in a select: its id and its story.
export const scenarioOption = (scenario) => `${scenario.id} — ${scenario.story}`;
