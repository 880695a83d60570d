// Read and write a group of form controls by id: text and selects as their value, radios and
// checkboxes as checked. One shape for the order form's per-type memory and for the draft kept
// across a sign-in, so both restore exactly what the trader saw.

/** { id: value | checked } for each id found under `root`. */
export function readFields(root, ids) {
  const values = {};
  for (const id of ids) {
    const el = root.querySelector(`#${id}`);
    if (!el) continue;
    values[id] = el.type === "radio" || el.type === "checkbox" ? el.checked : el.value;
  }
  return values;
}

/** The inverse of readFields; ids that are not there (or of the wrong kind) are ignored. */
export function writeFields(root, values) {
  for (const [id, value] of Object.entries(values ?? {})) {
    const el = root.querySelector(`#${id}`);
    if (!el) continue;
    if (el.type === "radio" || el.type === "checkbox") {
      if (typeof value === "boolean") el.checked = value;
    } else if (typeof value === "string") {
      el.value = value;
    }
  }
}
