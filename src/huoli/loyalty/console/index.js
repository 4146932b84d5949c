// The loyalty domain's console pages (docs/console.md: a page is an entry here and its .vue file).
export default [
  { id: "loyalty-member", title: { zh: "会员积分", en: "Member points" }, group: "engage", order: 60, range: false, component: () => import("./Member.vue") },
  { id: "loyalty-rules", title: { zh: "积分规则", en: "Loyalty rules" }, group: "engage", order: 61, range: false, component: () => import("./Rules.vue") },
  { id: "loyalty-mall", title: { zh: "积分商城", en: "Points mall" }, group: "engage", order: 62, range: false, component: () => import("./Mall.vue") },
  { id: "loyalty-tasks", title: { zh: "任务中心", en: "Member tasks" }, group: "engage", order: 63, range: false, component: () => import("./Tasks.vue") },
  { id: "loyalty-badges", title: { zh: "勋章", en: "Badges" }, group: "engage", order: 64, range: false, component: () => import("./Badges.vue") },
  { id: "loyalty-tiers", title: { zh: "会员等级与会员日", en: "Tiers & member day" }, group: "engage", order: 65, range: false, component: () => import("./Tiers.vue") },
  { id: "loyalty-checkin", title: { zh: "签到奖励", en: "Check-in rewards" }, group: "engage", order: 66, range: false, component: () => import("./Checkin.vue") },
];
