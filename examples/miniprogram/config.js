// Where this example finds huoli: the only file to edit (see README.md).
module.exports = {
  // The huoli server. `make demo` serves http://127.0.0.1:8000: in WeChat DevTools tick 详情 → 本地设置 →
  // 不校验合法域名… for plain HTTP during development; a release needs an HTTPS domain in request 合法域名.
  endpoint: 'http://127.0.0.1:8000',
  // Your mini-program's AppID (the `appid` of project.config.json), registered with huoli:
  //   huoli apps create my-shop --name 'My shop' --wx-appid wx…   (the huoli app id 'my-shop' works too)
  appId: 'wx0000000000000000',
  // Ids created by scripts/seed.js.
  couponTemplateId: 'welcome-5',
  bannerFlag: 'home_banner',
};
