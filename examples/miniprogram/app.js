// The SDK from npm: `npm install` then WeChat DevTools → 工具 → 构建 npm (see README.md).
const huoli = require('huoli-miniprogram-sdk');
const config = require('./config.js');

huoli.init({
  appId: config.appId,
  endpoint: config.endpoint,
  debug: false,
  // Delivery failures are never silent: a wrong appId (404 unknown_app) shows here and in the console.
  onError(err) {
    const app = getApp && getApp();
    if (app) app.globalData.lastDeliveryError = err.message;
  },
});

App(
  huoli.wrapApp({
    globalData: { lastDeliveryError: null },
    onLaunch() {
      // Nothing else to do: app_launch, app_show, page views and shares are tracked by the wrappers.
    },
  })
);
