// The catalog domain's console page (docs/console.md): the shop's items as the merchant's backend synced them.
export default [
  { id: "catalog", title: { zh: "商品库", en: "Product catalog" }, group: "marketing", order: 31, range: false, component: () => import("./Catalog.vue") },
];
