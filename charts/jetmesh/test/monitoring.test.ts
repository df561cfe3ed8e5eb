// The monitoring content of the chart: alert rules checked and unit-tested by promtool,
// the Grafana dashboard's structure, metric names as in docs/contracts.md, and every
// panel's PromQL evaluated by a real Prometheus.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chartDir, listFiles, loadYaml, readText, repoRoot, which } from "./chart.ts";
import { TestPrometheus } from "./prometheus.ts";
import { renderChart } from "./rendered.ts";

const filesDir = join(chartDir, "files");
const rulesFile = join(filesDir, "prometheus-rules.yaml");
/** The runbook links' base in the rules file (the chart can move it: runbookBaseUrl). */
const RUNBOOKS = "https://github.com/jetmesh/jetmesh/blob/main/docs/monitoring.md";

interface Target {
  refId: string;
  expr: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: Target[];
  datasource?: { type: string; uid: string };
  gridPos?: { h: number; w: number; x: number; y: number };
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string }[] };
}

const dashboards = listFiles(join(chartDir, "dashboards"), ".json").map((file) => ({
  file,
  dashboard: JSON.parse(readText(file)) as Dashboard,
}));

/** Grafana variables replaced the way Grafana would for "All" and a 1s scrape interval. */
function expandVariables(expr: string): string {
  return expr
    .replaceAll("$__rate_interval", "1m")
    .replaceAll("$__interval", "15s")
    .replaceAll("$__range", "5m")
    .replace(/\$\{?(namespace|subscription)\}?/g, ".*");
}

/** Prefixes of the contract's metric names: JetMesh's own, controller-runtime's and client-go's. */
const METRIC = /\b((?:jetmesh|controller_runtime|workqueue|leader_election|rest_client)_[a-z0-9_]+)/g;

/** Metric names an expression reads (histogram series mapped to the histogram's name). */
function metricNames(expr: string): string[] {
  const names = [...expr.matchAll(METRIC)].map((m) => (m[1] ?? "").replace(/_(bucket|sum|count)$/, ""));
  return [...new Set(names)];
}

/** GitHub's anchor for a Markdown heading. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, "")
    .replace(/ /g, "-");
}

function promtool(args: string[]): { ok: boolean; output: string } {
  try {
    return { ok: true, output: execFileSync("promtool", args, { encoding: "utf8", stdio: "pipe", cwd: filesDir }) };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}` || e.message };
  }
}

const rules = loadYaml(rulesFile) as {
  groups: { name: string; rules: { alert?: string; record?: string; expr: string; annotations?: Record<string, string> }[] }[];
};
const allExpressions = [
  ...rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `rule ${r.alert ?? r.record}`, expr: r.expr }))),
  ...dashboards.flatMap(({ file, dashboard }) =>
    dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `${file.split("/").pop()}: "${p.title}" ${t.refId}`, expr: t.expr }))),
  ),
];

describe("alert rules (promtool)", () => {
  it("promtool is installed (Debian: apt-get install prometheus; macOS: brew install prometheus)", () => {
    const hint = execFileSync(join(repoRoot, "scripts", "install-hint.sh"), ["promtool"], { encoding: "utf8" }).trim();
    expect(which("promtool"), hint).not.toBeNull();
  });

  it("promtool check rules accepts files/prometheus-rules.yaml", () => {
    const r = promtool(["check", "rules", "prometheus-rules.yaml"]);
    expect(r.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.ok, r.output).toBe(true);
  });

  it("promtool test rules: every alert fires when it should and stays quiet on its near miss", () => {
    const r = promtool(["test", "rules", "prometheus-rules.test.yaml"]);
    expect(r.ok, r.output).toBe(true);
    expect(r.output).toContain("SUCCESS");
  });

  it("covers the alerts the chart promises, each tested", () => {
    const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert)).filter(Boolean);
    expect(alerts).toEqual(
      expect.arrayContaining([
        "JetMeshSubscriptionLagAboveObjective",
        "JetMeshDeadLettersArriving",
        "JetMeshRedeliveryRateHigh",
        "JetMeshConsumerMissing",
        "JetMeshOperatorReconcileErrors",
        "JetMeshSubscriberAtMaxReplicasLagGrowing",
      ]),
    );
    const tests = readText(join(filesDir, "prometheus-rules.test.yaml"));
    for (const alert of alerts) expect(tests, `${alert} has a unit test`).toContain(`alertname: ${alert}`);
  });

  it("the PrometheusRule template embeds this file under spec, only moving the runbook links", () => {
    expect(readText(rulesFile)).toMatch(/^groups:/m);
    const template = readText(join(chartDir, "templates", "prometheusrule.yaml"));
    expect(template).toContain(
      '.Files.Get "files/prometheus-rules.yaml" | replace $defaultRunbooks (.Values.monitoring.prometheusRules.runbookBaseUrl | default $defaultRunbooks) | nindent 2',
    );
    expect(template).toContain(`$defaultRunbooks := "${RUNBOOKS}"`);
  });

  it("every alert has a runbook_url to its own section of docs/monitoring.md, which says what to do", () => {
    const doc = readText(join(repoRoot, "docs", "monitoring.md"));
    const lines = doc.split("\n");
    const sections = new Map<string, string>();
    lines.forEach((line, i) => {
      const h = /^(#{2,4}) (.+)$/.exec(line);
      if (!h) return;
      const end = lines.findIndex((l, j) => j > i && /^#{1,4} /.test(l));
      sections.set(anchor(h[2]!), lines.slice(i + 1, end < 0 ? undefined : end).join("\n"));
    });
    const alerts = rules.groups.flatMap((g) => g.rules).filter((r) => r.alert);
    expect(alerts.length).toBeGreaterThan(5);
    const problems: string[] = [];
    for (const r of alerts) {
      const url = r.annotations?.runbook_url ?? "";
      const [base, fragment] = url.split("#");
      if (base !== RUNBOOKS || !fragment) problems.push(`${r.alert}: runbook_url ${url || "(none)"} is not ${RUNBOOKS}#<section>`);
      else if (!sections.has(fragment)) problems.push(`${r.alert}: docs/monitoring.md has no section #${fragment}`);
      else if (fragment !== anchor(r.alert!)) problems.push(`${r.alert}: #${fragment} is another alert's section`);
      else if (!/\*\*What to do:?\*\*/.test(sections.get(fragment)!)) problems.push(`${r.alert}: section #${fragment} does not say what to do`);
    }
    expect(problems).toEqual([]);
    // The check is real: a heading that is not there is found missing.
    expect(sections.has(anchor("JetMeshNoSuchAlert"))).toBe(false);
  });

  it("monitoring.prometheusRules.runbookBaseUrl points every runbook link at the published docs (helm)", () => {
    const base = "https://docs.example.com/jetmesh/monitoring";
    const { objects } = renderChart({ monitoring: { prometheusRules: { enabled: true, runbookBaseUrl: base } } });
    const rule = objects.find((o) => o.kind === "PrometheusRule");
    expect(rule, "the PrometheusRule is rendered").toBeDefined();
    const urls = (rule!.spec as typeof rules).groups.flatMap((g) => g.rules).flatMap((r) => (r.alert ? [r.annotations?.runbook_url] : []));
    expect(urls.length).toBeGreaterThan(5);
    for (const url of urls) expect(url).toMatch(new RegExp(`^${base.replaceAll(".", "\\.")}#jetmesh[a-z]+$`));
  });
});

describe("Grafana dashboards", () => {
  it("load as JSON with a uid, a title and the datasource/namespace/subscription variables", () => {
    expect(dashboards.length).toBeGreaterThan(0);
    for (const { dashboard } of dashboards) {
      expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
      expect(dashboard.title).toBeTruthy();
      expect(dashboard.templating.list.map((v) => v.name)).toEqual(["datasource", "namespace", "subscription"]);
    }
  });

  it("every panel has a PromQL target on the Prometheus datasource variable, with a unique id", () => {
    for (const { dashboard } of dashboards) {
      const panels = dashboard.panels.filter((p) => p.type !== "row");
      expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
      for (const p of panels) {
        expect(p.targets?.length, p.title).toBeGreaterThan(0);
        for (const t of p.targets ?? []) expect(t.expr.trim(), `${p.title} ${t.refId}`).not.toBe("");
        expect(p.datasource, p.title).toEqual({ type: "prometheus", uid: "${datasource}" });
        expect(p.gridPos!.x + p.gridPos!.w, p.title).toBeLessThanOrEqual(24);
      }
    }
  });

  it("shows what the issue asks for: lag, arrival vs processing, replicas, DLQ, saga latency, operator health", () => {
    const exprs = dashboards.flatMap(({ dashboard }) => dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr))).join("\n");
    for (const metric of [
      "jetmesh_subscription_pending_messages",
      "jetmesh_subscription_arrival_rate",
      "jetmesh_subscription_processing_rate",
      "jetmesh_subscription_replicas_desired",
      "jetmesh_subscription_replicas_current",
      "jetmesh_dead_letters_total",
      "jetmesh_saga_duration_seconds_bucket",
      "leader_election_master_status",
      "controller_runtime_reconcile_total",
      "controller_runtime_reconcile_time_seconds_bucket",
      "workqueue_depth",
      "rest_client_requests_total",
    ]) {
      expect(exprs).toContain(metric);
    }
  });
});

describe("metric names", () => {
  it("every metric the rules and dashboards read is a contract metric (docs/contracts.md)", () => {
    const contracts = readText(join(repoRoot, "docs", "contracts.md"));
    const section = contracts.slice(contracts.indexOf("## Metrics"));
    const contractMetrics = new Set(
      [...section.matchAll(/`((?:jetmesh|controller_runtime|workqueue|leader_election|rest_client)_[a-z0-9_]+)(\{|`)/g)].map((m) => m[1]),
    );
    expect(contractMetrics.size).toBeGreaterThan(20);
    const unknown = allExpressions.flatMap(({ where, expr }) =>
      metricNames(expr)
        .filter((n) => !contractMetrics.has(n))
        .map((n) => `${where}: ${n}`),
    );
    expect(unknown).toEqual([]);
  });
});

describe("PromQL against a real Prometheus", () => {
  let prom: TestPrometheus | undefined;
  beforeAll(async () => {
    prom = await TestPrometheus.start([]);
  });
  afterAll(async () => {
    await prom?.stop();
  });

  it("every rule and panel expression parses and evaluates (no bad_data error)", async () => {
    expect(allExpressions.length).toBeGreaterThan(30);
    const failures: string[] = [];
    for (const { where, expr } of allExpressions) {
      const r = await prom!.query(expandVariables(expr));
      if (r.status !== "success") failures.push(`${where}: ${r.errorType}: ${r.error}\n  ${expr}`);
    }
    expect(failures).toEqual([]);
  });

  it("a broken expression is reported (the check is real)", async () => {
    const r = await prom!.query(expandVariables("sum by (service (rate(jetmesh_events_processed_total[$__rate_interval]))"));
    expect(r.status).toBe("error");
    expect(r.errorType).toBe("bad_data");
  });
});
