// The diagnosis domain's console pages (docs/console.md).
export default [
  { id: "diagnosis", title: { zh: "诊断", en: "Diagnosis" }, group: "diagnosis", order: 15, range: false, component: () => import("./Diagnosis.vue") },
];
