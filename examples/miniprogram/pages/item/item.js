const huoli = require('huoli-miniprogram-sdk');

Page(
  huoli.wrapPage({
    data: { id: '', added: false },

    onLoad(query) {
      this.setData({ id: query.id || '' });
    },

    onAddToCart() {
      // A client event the catalog allows (docs/events.md). Orders are not tracked here: your backend reports
      // a payment with the signed POST /v1/server/orders/paid (see the SDK README).
      huoli.track('add_to_cart', { item_id: this.data.id, amount_fen: 1990 });
      this.setData({ added: true });
    },

    onShareAppMessage() {
      return { title: '好物推荐', path: '/pages/item/item?id=' + this.data.id };
    },
  })
);
