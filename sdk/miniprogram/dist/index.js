// The package entry: WeChat DevTools' 构建npm copies this folder to miniprogram_npm/huoli-miniprogram-sdk/, where
// require('huoli-miniprogram-sdk') loads index.js. The SDK itself is the one file beside it.
module.exports = require('./huoli.js');
