// The experiments domain's console pages (docs/console.md).
export default [
  { id: "experiments", title: { zh: "实验", en: "Experiments" }, group: "experiment", order: 50, range: false, component: () => import("./Experiments.vue") },
];
