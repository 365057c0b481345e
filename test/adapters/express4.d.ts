// Express 4, installed under the alias express4 for these tests, typed as Express 5: the surface they use
// (express(), app.set, app.use, app.get, req.ip, res.json) is the same in both.
declare module "express4" {
  import express from "express";
  export default express;
}
