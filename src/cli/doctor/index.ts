// `clientaddr doctor`: what a gateway running here will see, which `trustedProxies` entry to use, and what
// is wrong with a config's list. Everything is a pure function of `Facts` (container evidence, interfaces,
// default routes); only `readFacts` touches the machine, so tests and the CLI can hand in any topology.
//
// facts.ts reads the machine; ranges.ts does range maths on the trust list; topology.ts works out where a
// published port's connections come from; findings.ts diagnoses and checks a config; report.ts is the report,
// as JSON and for a person.
export type { Facts } from "./facts.js";
export { detectContainer, parseIpv6Route, parseNetDev, parseRoute, readFacts } from "./facts.js";
export type { Finding } from "./findings.js";
export { MAX_INVALID_LISTED, checkConfig, diagnose } from "./findings.js";
export type { CheckedSource, DoctorReport } from "./report.js";
export { formatReport } from "./report.js";
