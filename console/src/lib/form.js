// useForm(): a form's busy flag and the API's field errors ({details: [{field, message}]}) by field name,
// in the operator's language; whatever names no field shows at the form's top.
import { reactive, ref, watch } from "vue";
import { ApiError } from "./api.js";
import { shellT, state } from "./console.js";
import { localMessage } from "./messages.js";

export function useForm(t = shellT) {
  const errors = reactive({});
  const top = ref("");
  const busy = ref(false);
  // The last refusal, so a language switch says it again in the new language.
  let last = null;
  watch(() => state.lang, () => {
    if (last) show(last.err, last.known);
  });

  function clear() {
    last = null;
    for (const k of Object.keys(errors)) delete errors[k];
    top.value = "";
  }

  // Shows err's details next to their fields. `known` lists the fields this form has (others go on top).
  function show(err, known) {
    clear();
    last = { err, known };
    const details = Array.isArray(err?.details) ? err.details : [];
    const loose = [];
    for (const d of details) {
      const field = String(d?.field ?? "");
      const msg = localMessage(state.lang, d?.message, t);
      if (field && (!known || known.includes(field))) errors[field] = errors[field] ? `${errors[field]}；${msg}` : msg;
      else loose.push(field ? `${field}: ${msg}` : msg);
    }
    if (loose.length) top.value = loose.join("\n");
    else if (!Object.keys(errors).length) {
      top.value = err instanceof ApiError && err.status === 0 ? t("signin.network")
        : err instanceof ApiError && err.status === 403 ? t("page.forbidden")
        : localMessage(state.lang, err?.message ?? err, t) || t("form.error");
    }
  }

  // Local checks before sending: {field: message} (already translated); true when there were none.
  function check(found) {
    clear();
    for (const [k, v] of Object.entries(found)) if (v) errors[k] = v;
    if (Object.keys(errors).length) {
      top.value = t("form.error");
      return false;
    }
    return true;
  }

  // Runs fn (the API call); field errors land in `errors`. Resolves fn's value, or undefined on failure.
  async function submit(fn, known) {
    clear();
    busy.value = true;
    try {
      return await fn();
    } catch (err) {
      // a 401 that names fields is the form's answer (a taken username); a bare one means signed out
      if (err instanceof ApiError && err.status === 401 && !(Array.isArray(err.details) && err.details.length)) throw err;
      show(err, known);
      return undefined;
    } finally {
      busy.value = false;
    }
  }

  return { errors, top, busy, clear, show, check, submit };
}
