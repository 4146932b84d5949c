// The loyalty domain's console pages (docs/console.md: a page is an entry here and its .vue file).
export default [
  { id: "loyalty-member", title: { zh: "会员积分", en: "Member points" }, group: "engage", order: 60, range: false, component: () => import("./Member.vue") },
  { id: "loyalty-rules", title: { zh: "积分规则", en: "Loyalty rules" }, group: "engage", order: 61, range: false, component: () => import("./Rules.vue") },
];
