// The doctor's report, and the same report written for a person (formatReport).
//
// `clientaddr doctor --json` prints one DoctorReport:
//
//   {
//     "facts": {
//       "container":  { "detected": true, "evidence": ["/.dockerenv exists (Docker)"] },
//                     // with Podman evidence also "podman": { "rootless": true | false | null } (see detectContainer)
//       "interfaces": [{ "name": "eth0", "addresses": [{ "family": 4, "address": "172.18.0.2", "cidr": "172.18.0.2/16" }] }],
//       "gateways":   [{ "family": 4, "address": "172.18.0.1", "interface": "eth0", "metric": 0 }]
//     },
//     "recommendation": { "trustedProxies": ["172.18.0.1"] },   // IPv4 default gateway, then IPv6 if any; [] if none
//                                                                // or without container evidence; under Podman's
//                                                                // rootlessport the container's own IPv4 address
//     "warnings": [{ "code": "publish-on-loopback", "severity": "warning", "message": "..." }],
//     "config": null                                            // without a list to check; with --config FILE:
//               | { "file": "gateway.json", "findings": [{ "code": "private-range", "severity": "warning",
//                                                          "message": "...", "entry": "172.18.0.0/16", "index": 0 }] }
//               | { "trusted": ["172.18.0.0/16"], "findings": [...] }                       // --trusted LIST
//               | { "env": "TRUSTED_PROXIES", "trusted": ["172.18.0.0/16"], "findings": [...] } // --trusted-env NAME
//   }
//
// Severities are "error" | "warning" | "info"; `entry` and `index` are present on findings about one entry.
// Addresses are canonical (dotted IPv4, RFC 5952 IPv6), so "172.18.0.1" can be compared as a string.
import type { Diagnosis, Finding } from "./findings.js";

/** Where the checked list came from: a config file, --trusted, or the environment variable --trusted-env names. */
export type CheckedSource =
  | { readonly file: string }
  | { readonly trusted: readonly string[]; readonly preset?: string }
  | { readonly env: string; readonly trusted: readonly string[]; readonly preset?: string };

export interface DoctorReport extends Diagnosis {
  readonly config: (CheckedSource & { readonly findings: readonly Finding[] }) | null;
}

export function formatReport(report: DoctorReport): string {
  const { container, interfaces, gateways } = report.facts;
  const lines = ["Container"];
  if (container.detected) lines.push("  yes", ...container.evidence.map((line) => `  - ${line}`));
  else lines.push("  no evidence found (which proves nothing: see Warnings)");

  lines.push("", "Interfaces");
  const width = Math.max(0, ...interfaces.map(({ name }) => name.length));
  for (const { name, addresses } of interfaces) {
    lines.push(`  ${name.padEnd(width)}  ${addresses.length > 0 ? addresses.map(({ cidr }) => cidr).join(", ") : "(no addresses)"}`);
  }
  if (interfaces.length === 0) lines.push("  (none)");

  lines.push("", "Default gateway");
  for (const g of gateways) lines.push(`  IPv${g.family}  ${g.address} via ${g.interface} (metric ${g.metric})`);
  if (gateways.length === 0) lines.push("  (none)");

  lines.push("", "Use this");
  const { trustedProxies } = report.recommendation;
  if (trustedProxies.length > 0) {
    lines.push(`  "trustedProxies": [${trustedProxies.map((address) => `"${address}"`).join(", ")}]`, "  and publish the port on loopback only: -p 127.0.0.1:PORT:PORT");
  } else {
    lines.push(
      !container.detected
        ? "  (nothing: no container evidence; a gateway running directly on a host needs no trustedProxies)"
        : report.warnings.some(({ code }) => code === "host-network")
          ? "  (nothing: the container shares the host's network; its local clients arrive on loopback)"
        : gateways.length === 0
          ? "  (nothing: no default gateway)"
          : "  (nothing: no address on the default route's interface; see Warnings)",
    );
  }

  lines.push("", "Warnings", ...findingLines(report.warnings));

  lines.push("", `Config check${report.config ? ` (${sourceName(report.config)})` : ""}`);
  if (report.config === null) lines.push("  (no list given: --config FILE, --trusted LIST or --trusted-env NAME)");
  else if (report.config.findings.length === 0) lines.push("  no problems found");
  else lines.push(...findingLines(report.config.findings));
  return lines.join("\n");
}

function sourceName(source: CheckedSource): string {
  if ("file" in source) return source.file;
  const preset = source.preset === undefined ? "" : `, preset ${source.preset}`;
  return `${"env" in source ? `environment variable ${source.env}` : "--trusted"}${preset}`;
}

function findingLines(findings: readonly Finding[]): string[] {
  if (findings.length === 0) return ["  (none)"];
  return findings.map(({ code, severity, message }) => `  ${severity.padEnd(7)}  [${code}] ${message}`);
}
