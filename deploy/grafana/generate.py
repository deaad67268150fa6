#!/usr/bin/python3
"""Writes FlowCollector's Grafana dashboards (overview, collector health, fleet) next to this script.

The JSON files are generated so that every panel follows the same conventions: a Prometheus datasource variable
(${DS_PROMETHEUS}, declared in __inputs for "Import dashboard", mapped to the uid "flowcollector-prometheus" by
provisioning/datasource.yml), units set, no label that carries a victim's address. Run it after changing a panel
and commit its output; the test suite evaluates every expression against a real Prometheus scraping a collector.

usage: deploy/grafana/generate.py [--check]   (--check: exit 1 if a committed file differs from what it would write)
"""
import json
import os
import sys

CHANGED = []

DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
IFACE = 'node=~"$node", interface=~"$interface", direction=~"$direction"'


def target(expr, legend, ref="A"):
    return {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": ref, "range": True}


def panel(pid, title, kind, targets, x, y, w=12, h=8, unit="short", description="", overrides=None, options=None):
    result = {
        "id": pid,
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": overrides or []},
    }
    if options:
        result["options"] = options
    return result


def threshold_override(name):
    return {
        "matcher": {"id": "byRegexp", "options": f".*{name}.*"},
        "properties": [
            {"id": "custom.lineStyle", "value": {"dash": [10, 10], "fill": "dash"}},
            {"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}},
        ],
    }


def variable_datasource():
    return {"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource", "query": "prometheus", "current": {}, "hide": 0}


def variable_query(name, label, query, multi=True, include_all=True):
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": name},
        "definition": query,
        "refresh": 2,
        "multi": multi,
        "includeAll": include_all,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


def variable_custom(name, label, values):
    return {
        "name": name,
        "label": label,
        "type": "custom",
        "query": ",".join(values),
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
    }


def dashboard(uid, title, description, panels, variables, annotations=None):
    return {
        "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "description": "", "type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus"}],
        "__requires": [
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.0.0"},
            {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
        ],
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["flowcollector", "ddos"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "refresh": "10s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-1h", "to": "now"},
        "links": [{"title": "FlowCollector", "type": "dashboards", "tags": ["flowcollector"], "asDropdown": True}],
        "templating": {"list": [variable_datasource()] + variables},
        "annotations": {"list": annotations or []},
        "panels": panels,
    }


def incidents_annotation(selector=""):
    return {
        "name": "Incidents",
        "datasource": DATASOURCE,
        "enable": True,
        "iconColor": "red",
        "expr": f"sum by (type) (flowcollector_incidents_open{selector}) > 0",
        "step": "10s",
        "titleFormat": "{{type}}",
        "textFormat": "incident open: {{type}}",
        "useValueForTime": False,
    }


def overview_panels(scope):
    """The overview's panels; scope is the instance selector of the fleet dashboard, empty for one collector."""
    iface = IFACE + scope
    where = "{" + scope.lstrip(", ") + "}" if scope else ""
    return [
        panel(1, "Traffic (bits per second) and threshold", "timeseries", [
            target(f"sum by (node, interface, direction) (flowcollector_interface_bytes_per_second{{{iface}}}) * 8", "{{node}} {{interface}} {{direction}}"),
            target(f"max by (node, interface, direction) (flowcollector_interface_threshold_bytes_per_second{{{iface}}} < +Inf) * 8", "threshold {{node}} {{interface}} {{direction}}", "B"),
        ], 0, 0, unit="bps", description="Per interface, the last complete second; the dashed line is the threshold detection judges by now (absent while learning).", overrides=[threshold_override("threshold")]),
        panel(2, "Traffic (packets per second) and threshold", "timeseries", [
            target(f"sum by (node, interface, direction) (flowcollector_interface_packets_per_second{{{iface}}})", "{{node}} {{interface}} {{direction}}"),
            target(f"max by (node, interface, direction) (flowcollector_interface_threshold_packets_per_second{{{iface}}} < +Inf)", "threshold {{node}} {{interface}} {{direction}}", "B"),
        ], 12, 0, unit="pps", overrides=[threshold_override("threshold")]),
        panel(3, "Open incidents by type", "timeseries", [
            target(f"sum by (type) (flowcollector_incidents_open{where})", "{{type}}"),
        ], 0, 8, w=8, unit="short"),
        panel(4, "Open incidents by severity", "timeseries", [
            target(f"sum by (severity) (flowcollector_incidents_open_by_severity{where})", "{{severity}}"),
        ], 8, 8, w=8, unit="short"),
        panel(5, "Mitigation actions in force", "stat", [
            target(f"sum(flowcollector_mitigation_active_actions{where})", "actions"),
        ], 16, 8, w=8, unit="short", description="Local drop rules and BGP announcements in force (dry-run ones included)."),
        panel(6, "Top interfaces (bits per second)", "bargauge", [
            target(f"topk(10, sum by (node, interface, direction) (flowcollector_interface_bytes_per_second{{{iface}}}) * 8)", "{{node}} {{interface}} {{direction}}"),
        ], 0, 16, unit="bps", options={"orientation": "horizontal", "displayMode": "gradient", "reduceOptions": {"calcs": ["lastNotNull"]}}),
        panel(7, "Share of link capacity", "timeseries", [
            target(f"sum by (node, interface, direction) (flowcollector_interface_bytes_per_second{{{iface}}}) * 8 / on (node, interface, direction) max by (node, interface, direction) (flowcollector_interface_capacity_bits_per_second{{{iface}}} > 0)", "{{node}} {{interface}} {{direction}}"),
        ], 12, 16, unit="percentunit", description="Only links whose capacity the agent reports or the configuration gives."),
        panel(8, "Node totals (bits per second)", "timeseries", [
            target(f"sum by (source) (flowcollector_node_bytes_per_second{where}) * 8", "{{source}}"),
        ], 0, 24, w=24, unit="bps"),
    ]


def health_panels():
    exporter = 'exporter=~"$exporter"'
    return [
        panel(1, "Datagrams per exporter", "timeseries", [target(f"sum by (exporter) (rate(flowcollector_exporter_datagrams_total{{{exporter}}}[$__rate_interval]))", "{{exporter}}")], 0, 0, w=8, unit="pps"),
        panel(2, "Records per exporter", "timeseries", [target(f"sum by (exporter) (rate(flowcollector_exporter_records_total{{{exporter}}}[$__rate_interval]))", "{{exporter}}")], 8, 0, w=8, unit="short"),
        panel(3, "Decode errors by reason", "timeseries", [target(f"sum by (exporter, reason) (rate(flowcollector_exporter_decode_errors_total{{{exporter}}}[$__rate_interval]))", "{{exporter}} {{reason}}")], 16, 0, w=8, unit="short"),
        panel(4, "Sequence numbers lost", "timeseries", [target(f"sum by (exporter) (rate(flowcollector_exporter_sequence_lost_total{{{exporter}}}[$__rate_interval]))", "{{exporter}}")], 0, 8, w=8, unit="short"),
        panel(5, "Kernel drops per listener", "timeseries", [target("sum by (listener) (rate(flowcollector_listener_kernel_drops_total[$__rate_interval]))", "{{listener}}")], 8, 8, w=8, unit="pps"),
        panel(6, "Templates held", "timeseries", [target(f"sum by (exporter) (flowcollector_exporter_templates{{{exporter}}})", "{{exporter}}")], 16, 8, w=8, unit="short"),
        panel(7, "Tick duration", "timeseries", [target("flowcollector_tick_duration_seconds", "{{instance}}")], 0, 16, w=8, unit="s", description="How long the last one-second tick took; it must stay well under a second."),
        panel(8, "Aggregation overflow", "timeseries", [
            target("rate(flowcollector_aggregation_destination_overflow_total[$__rate_interval])", "destinations {{instance}}"),
            target("rate(flowcollector_aggregation_interface_overflow_total[$__rate_interval])", "interfaces {{instance}}", "B"),
        ], 8, 16, w=8, unit="short"),
        panel(9, "Database writer", "timeseries", [
            target("rate(flowcollector_store_rows_written_total[$__rate_interval])", "rows written {{instance}}"),
            target("rate(flowcollector_store_writes_dropped_total[$__rate_interval])", "writes dropped {{instance}}", "B"),
            target("rate(flowcollector_store_batch_failures_total[$__rate_interval])", "failed batches {{instance}}", "C"),
        ], 16, 16, w=8, unit="short"),
        panel(10, "ExaBGP connection", "stat", [target("flowcollector_exabgp_connected", "{{instance}}")], 0, 24, w=6, unit="bool_on_off", description="Absent where ExaBGP is not configured."),
        panel(11, "Resident memory", "timeseries", [target('process_resident_memory_bytes{job=~"$job"}', "{{instance}}")], 6, 24, w=6, unit="bytes"),
        panel(12, "CPU", "timeseries", [target('rate(process_cpu_seconds_total{job=~"$job"}[$__rate_interval])', "{{instance}}")], 12, 24, w=6, unit="percentunit"),
        panel(13, "Build", "table", [target("flowcollector_build_info", "{{version}}")], 18, 24, w=6, unit="short", options={"showHeader": True}),
        panel(14, "Keys learning", "timeseries", [
            target("flowcollector_detection_keys", "keys {{instance}}"),
            target("flowcollector_detection_learning_keys", "learning {{instance}}", "B"),
        ], 0, 32, w=12, unit="short", description="A new collector is calibrated once no key is still learning."),
        panel(15, "Mitigation events", "timeseries", [target("sum by (event) (increase(flowcollector_mitigation_events_total[$__rate_interval]))", "{{event}}")], 12, 32, w=12, unit="short"),
        panel(16, "Alert queue", "timeseries", [target("flowcollector_alert_queue_depth", "pending {{instance}}")], 0, 40, w=12, unit="short",
              description="Alert deliveries waiting in the outbox: a channel that is down or rate-limiting keeps them here until they are sent or too old."),
        panel(17, "Alert deliveries", "timeseries", [target("sum by (channel, outcome) (increase(flowcollector_alerts_total[$__rate_interval]))", "{{channel}} {{outcome}}")], 12, 40, w=12, unit="short",
              description="Per channel: sent, retried, failed (refused, or not delivered within Alerts:MaxAgeMinutes), coalesced."),
    ]


def write(name, document):
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    text = json.dumps(document, indent=2) + "\n"
    if "--check" in sys.argv:
        with open(path) as handle:
            if handle.read() != text:
                CHANGED.append(name)
        return
    with open(path, "w") as handle:
        handle.write(text)


def main():
    overview_variables = [
        variable_query("node", "Node", "label_values(flowcollector_interface_bytes_per_second, node)"),
        variable_query("interface", "Interface", 'label_values(flowcollector_interface_bytes_per_second{node=~"$node"}, interface)'),
        variable_custom("direction", "Direction", ["in", "out"]),
    ]
    write("flowcollector-overview.json", dashboard(
        "flowcollector-overview", "FlowCollector / Overview",
        "Traffic per interface against its threshold, open incidents, mitigation in force.",
        overview_panels(""), overview_variables, [incidents_annotation()]))
    write("flowcollector-health.json", dashboard(
        "flowcollector-health", "FlowCollector / Collector health",
        "Is the collector receiving, decoding, detecting and storing as it should?",
        health_panels(),
        [variable_query("job", "Job", "label_values(flowcollector_build_info, job)"),
         variable_query("exporter", "Exporter", "label_values(flowcollector_exporter_datagrams_total, exporter)")]))
    fleet_variables = [
        variable_query("collector", "Collector", "label_values(flowcollector_build_info, instance)"),
        variable_query("node", "Node", 'label_values(flowcollector_interface_bytes_per_second{instance=~"$collector"}, node)'),
        variable_query("interface", "Interface", 'label_values(flowcollector_interface_bytes_per_second{instance=~"$collector", node=~"$node"}, interface)'),
        variable_custom("direction", "Direction", ["in", "out"]),
    ]
    write("flowcollector-fleet.json", dashboard(
        "flowcollector-fleet", "FlowCollector / Fleet",
        "The overview across many collectors: pick them, or All.",
        overview_panels(', instance=~"$collector"'), fleet_variables, [incidents_annotation('{instance=~"$collector"}')]))


if __name__ == "__main__":
    main()
    if CHANGED:
        print("not as generated: " + ", ".join(CHANGED), file=sys.stderr)
        sys.exit(1)
