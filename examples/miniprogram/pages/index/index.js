const huoli = require('huoli-miniprogram-sdk');
const config = require('../../config.js');

const yuan = (fen) => (fen / 100).toFixed(2);

// Every tap ends in `status` (what happened) or `error` (what the server said, with its code).
function fail(page, what) {
  return (err) => page.setData({ error: what + '：' + (err.code || '') + ' ' + (err.message || err), status: '' });
}

Page(
  huoli.wrapPage({
    data: {
      userId: '',
      banner: '',
      points: null,
      streak: null,
      templates: [],
      coupons: [],
      flashItems: [],
      reservation: null,
      status: '',
      error: '',
    },

    onLoad() {
      this.setData({ banner: huoli.peekFlag(config.bannerFlag, '欢迎光临') }); // cached value: no flicker
      this.refreshFlags();
      this.loadOffers();
    },

    refreshFlags(force) {
      return huoli.getFlags({ force: !!force }).then((view) => {
        const banner = view.flags[config.bannerFlag];
        this.setData({ banner: typeof banner === 'string' ? banner : '欢迎光临' });
      });
    },

    loadOffers() {
      const templates = huoli.request({ path: '/v1/promotions/coupon-templates' }).then((list) =>
        this.setData({
          templates: list.map((t) => ({ id: t.id, name: t.name, amount: yuan(t.amount_fen) })),
        })
      );
      const flash = huoli.request({ path: '/v1/promotions/flash/sessions' }).then((sessions) => {
        const items = [];
        sessions.forEach((s) =>
          s.items.forEach((i) =>
            items.push({ id: i.id, itemId: i.item_id, price: yuan(i.price_fen), stock: i.stock, session: s.name })
          )
        );
        this.setData({ flashItems: items });
      });
      return Promise.all([templates, flash]).catch(fail(this, '活动加载失败'));
    },

    onLogin() {
      return huoli
        .login()
        .then(({ userId }) => {
          this.setData({ userId, status: '已登录', error: '' });
          return Promise.all([this.refreshFlags(true), this.loadPoints()]);
        })
        .catch(fail(this, '登录失败'));
    },

    loadPoints() {
      return huoli.request({ path: '/v1/loyalty/points' }).then((b) => this.setData({ points: b.available }));
    },

    onCheckin() {
      return huoli
        .request({ path: '/v1/loyalty/checkin', method: 'POST' })
        .then((r) => {
          this.setData({
            streak: r.streak,
            status: r.checked_in ? '签到成功 +' + r.points + ' 积分' : '今天已经签到过了',
            error: '',
          });
          return this.loadPoints();
        })
        .catch(fail(this, '签到失败'));
    },

    onClaim(e) {
      const templateId = e.currentTarget.dataset.id;
      // One request id per tap: a retried request returns the same coupon instead of a second one.
      const requestId = templateId + '-' + Date.now();
      return huoli
        .request({ path: '/v1/promotions/coupons/claim', method: 'POST', data: { template_id: templateId, request_id: requestId } })
        .then((c) => {
          this.setData({ coupons: this.data.coupons.concat([{ id: c.id, templateId: c.template_id }]), status: '领券成功', error: '' });
        })
        .catch(fail(this, '领券失败'));
    },

    onFlash(e) {
      const id = e.currentTarget.dataset.id;
      return huoli
        .request({ path: '/v1/promotions/flash/items/' + id + '/attempt', method: 'POST', data: { quantity: 1 } })
        .then((r) => {
          // Pay before r.pay_by; your backend reports the payment with the signed /v1/server/orders/paid call.
          this.setData({ reservation: { id: r.id, payBy: r.pay_by }, status: '抢到了！请在时限内支付', error: '' });
          return this.loadOffers();
        })
        .catch(fail(this, '秒杀失败'));
    },

    onOpenItem(e) {
      huoli.track('view_item', { item_id: e.currentTarget.dataset.item });
      wx.navigateTo({ url: '/pages/item/item?id=' + e.currentTarget.dataset.item });
    },

    onShareAppMessage() {
      return { title: '活力小铺：每日签到领积分', path: '/pages/index/index' };
    },
  })
);
