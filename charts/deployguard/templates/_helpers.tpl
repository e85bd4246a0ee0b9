{{/*
Prefix of every object name: fullnameOverride, else the release name when it already says
"deployguard", else "<release>-deployguard". Cut to 40 characters so the longest suffix
("-controller-manager") and the pod name's hashes stay within Kubernetes' 63.
*/}}
{{- define "deployguard.fullname" -}}
{{- $name := .Values.fullnameOverride -}}
{{- if not $name -}}
{{- $name = ternary .Release.Name (printf "%s-deployguard" .Release.Name) (contains "deployguard" .Release.Name) -}}
{{- end -}}
{{- $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/* The operator's Deployment, PodDisruptionBudget, ServiceAccount and monitors. */}}
{{- define "deployguard.managerName" -}}
{{- include "deployguard.fullname" . }}-controller-manager
{{- end -}}

{{/* The admission webhook's Service: the API server calls it (admission.enabled). */}}
{{- define "deployguard.webhookName" -}}
{{- include "deployguard.fullname" . }}-webhook
{{- end -}}

{{/* The metrics Service; Prometheus's job label is this name. */}}
{{- define "deployguard.metricsName" -}}
{{- include "deployguard.fullname" . }}-metrics
{{- end -}}

{{/*
Selector labels: the same as config/ uses, fixed (not derived from the release), because the
operator's Lease name is fixed too: one release per namespace. Call with (dict "component" X);
without a component (the Namespace) only the name label.
*/}}
{{- define "deployguard.selectorLabels" -}}
app.kubernetes.io/name: deployguard
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end -}}

{{/* Every object's labels: the selector labels and Helm's standard ones. Call with (dict "ctx" $ "component" X). */}}
{{- define "deployguard.labels" -}}
{{ include "deployguard.selectorLabels" . }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "deployguard.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/*
The manager's arguments: what config/manager/manager.yaml passes, then each flag a value sets.
Unset values are left out, so the operator's own defaults apply and the default render equals
config/.
*/}}
{{- define "deployguard.args" -}}
{{- $o := .Values.operator -}}
{{- $g := .Values.guardFloors -}}
- run
- --leader-elect
- --metrics-bind-address=:8080
- --health-probe-bind-address=:8081
{{- if not .Values.metrics.secure }}
- --metrics-secure=false
{{- end }}
{{- if .Values.metrics.certSecret }}
- --metrics-cert-dir=/etc/deployguard/metrics-certs
{{- end }}
{{- with $o.logLevel }}
- {{ printf "--log-level=%s" . | quote }}
{{- end }}
{{- with $o.logFormat }}
- {{ printf "--log-format=%s" . | quote }}
{{- end }}
{{- if $o.dryRun }}
- --dry-run
{{- end }}
{{- with $o.resyncPeriod }}
- {{ printf "--resync-period=%s" . | quote }}
{{- end }}
{{- if not (kindIs "invalid" $o.workers) }}
- {{ printf "--workers=%d" (int $o.workers) | quote }}
{{- end }}
{{- with $o.watchNamespace }}
- {{ printf "--watch-namespace=%s" . | quote }}
{{- end }}
{{- with $o.policySelector }}
- {{ printf "--policy-selector=%s" . | quote }}
{{- end }}
{{- with $o.shutdownTimeout }}
- {{ printf "--shutdown-timeout=%s" . | quote }}
{{- end }}
{{- with $g.protectedNamespaces }}
- {{ printf "--protected-namespaces=%s" (join "," .) | quote }}
{{- end }}
{{- if not (kindIs "invalid" $g.maxCordonedNodesPercent) }}
- {{ printf "--max-cordoned-nodes-percent=%d" (int $g.maxCordonedNodesPercent) | quote }}
{{- end }}
{{- if not (kindIs "invalid" $g.maxActionsPerMinute) }}
- {{ printf "--max-actions-per-minute=%d" (int $g.maxActionsPerMinute) | quote }}
{{- end }}
{{- if .Values.admission.enabled }}
- --admission-bind-address=:9443
- {{ printf "--admission-service=%s/%s" .Release.Namespace (include "deployguard.webhookName" .) | quote }}
{{- with .Values.admission.certValidity }}
- {{ printf "--admission-cert-validity=%s" . | quote }}
{{- end }}
{{- end }}
{{- range $o.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end -}}
