// The promotions domain's console pages (docs/console.md: a page is an entry here and its .vue file).
// 营销中心: the hub (a card per mechanic, what runs) and one page per mechanic.
export default [
  { id: "promotions", title: { zh: "营销中心", en: "Marketing center" }, group: "marketing", order: 30, range: false, component: () => import("./Promotions.vue") },
  { id: "promo-coupons", title: { zh: "优惠券与礼包", en: "Coupons & gift packs" }, group: "marketing", order: 32, range: false, component: () => import("./Coupons.vue") },
  { id: "promo-flash", title: { zh: "限时秒杀", en: "Flash sales" }, group: "marketing", order: 33, range: false, component: () => import("./Flash.vue") },
  { id: "promo-groupbuy", title: { zh: "拼团", en: "Group buys" }, group: "marketing", order: 34, range: false, component: () => import("./GroupBuy.vue") },
  { id: "promo-bargain", title: { zh: "砍价", en: "Bargains" }, group: "marketing", order: 35, range: false, component: () => import("./Bargain.vue") },
  { id: "promo-referral", title: { zh: "邀请有礼", en: "Referrals" }, group: "marketing", order: 36, range: false, component: () => import("./Referral.vue") },
  { id: "promo-distribution", title: { zh: "分销", en: "Distribution" }, group: "marketing", order: 37, range: false, component: () => import("./Distribution.vue") },
  { id: "wechatpay", title: { zh: "微信支付商户", en: "WeChat Pay merchant" }, group: "settings", order: 915, range: false, component: () => import("./Wechatpay.vue") },
];
