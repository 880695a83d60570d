// Read and write a group of form controls by id: text and selects as their value, radios and
// checkboxes as checked. One shape for the order form's per-type memory and for the draft kept
// across a sign-in, so both restore exactly what the trader saw.

function find(root, id) {
  return root.querySelector(`#${CSS.escape(id)}`);
}

/** { id: value | checked } for each id found under `root`. */
export function readFields(root, ids) {
  const values = {};
  for (const id of ids) {
    const el = find(root, id);
    if (!el) continue;
    values[id] = el.type === "radio" || el.type === "checkbox" ? el.checked : el.value;
  }
  return values;
}

/** The inverse of readFields; ids that are not there, or values of the wrong kind, are ignored.
 * A radio is only ever checked (which unchecks the rest of its group), so a group always keeps a choice. */
export function writeFields(root, values) {
  for (const [id, value] of Object.entries(values ?? {})) {
    const el = find(root, id);
    if (!el) continue;
    if (el.type === "radio") {
      if (value === true) el.checked = true;
    } else if (el.type === "checkbox") {
      if (typeof value === "boolean") el.checked = value;
    } else if (typeof value === "string" && (el.tagName !== "SELECT" || [...el.options].some((o) => o.value === value))) {
      el.value = value;
    }
  }
}
