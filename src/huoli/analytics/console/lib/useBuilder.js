// A builder page's state: the spec (from the URL, else the defaults), running it (on open, on a range
// change, on submit), the last result, and the API's 422 details next to the inputs they name.
// `loaded` is "<start>..<end>" once a result is drawn, "error" after a failed run (tests and the bench wait on it).
import { reactive, ref, shallowRef } from "vue";
import { useForm, useLoad } from "@console/blocks.js";
import { placeErrors, runMetric, specFromParams } from "./builder.js";

// `messages`: {field: i18n key} for API messages about a field that read better said the form's way
// (the window is typed in days, the API counts seconds).
export function useBuilder(ctx, { metric, defaults, body, fields, messages = {} }) {
  const form = useForm(ctx.t);
  const spec = reactive(specFromParams(ctx.params, defaults) || structuredClone(defaults));
  const response = shallowRef(null); // {result, elapsed_ms}
  const ran = shallowRef(null); // the spec the response answers
  const loaded = ref("");
  let latest = 0;

  async function execute() {
    const mine = ++latest;
    const current = JSON.parse(JSON.stringify(spec));
    loaded.value = "";
    const res = await form.submit(async () => {
      try {
        return await runMetric(ctx, metric, body(current));
      } catch (err) {
        if (err instanceof ctx.ApiError && err.status === 422) {
          placeErrors(err, fields(current), ctx.t);
          for (const d of err.details) if (messages[d.field]) d.message = ctx.t(messages[d.field]);
        }
        throw err;
      }
    }, fields(current));
    if (mine !== latest) return null;
    if (res) {
      response.value = res;
      ran.value = current;
      loaded.value = `${ctx.range.start}..${ctx.range.end}`;
    } else {
      loaded.value = "error";
    }
    return res;
  }

  const { reload } = useLoad(execute);

  // Submit: the spec goes into the URL (the link is the chart), then runs.
  function submit() {
    ctx.setParams({ q: JSON.stringify(spec) });
    return reload();
  }

  return { form, spec, response, ran, loaded, submit };
}
