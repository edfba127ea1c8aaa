{{/* The chart's name, or nameOverride. */}}
{{- define "berth.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Object names: the release name, with the chart's name unless it holds it already. */}}
{{- define "berth.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "berth.selectorLabels" -}}
app.kubernetes.io/name: {{ include "berth.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "berth.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "berth.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: node-agent
{{- end }}

{{- define "berth.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "berth.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "berth.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end }}
{{- end }}

{{/* run and both start containers: the pod must be privileged and in the host's namespaces. */}}
{{- define "berth.runsContainers" -}}
{{- if ne .Values.mode "observe" }}true{{ end }}
{{- end }}

{{/* --consul: https:// added when TLS is on and the address names no scheme. */}}
{{- define "berth.consulAddress" -}}
{{- $a := .Values.consul.address }}
{{- if and .Values.consul.tls.enabled (not (regexMatch "^[a-zA-Z][a-zA-Z0-9+.-]*://" $a)) }}
{{- printf "https://%s" $a }}
{{- else }}
{{- $a }}
{{- end }}
{{- end }}

{{/* Where the secrets and CAs are mounted in the container. */}}
{{- define "berth.secretsDir" -}}/etc/berth/secrets{{- end }}

{{/*
The agent's config file (--config): the sections the chart sets, with
.Values.config merged over them (the user's keys win).
*/}}
{{- define "berth.config" -}}
{{- $s := include "berth.secretsDir" . }}
{{- $metrics := dict }}
{{- if ne (include "berth.runsContainers" .) "true" }}
{{- /* The host's /proc and cgroup tree; /sys is the pod's own sysfs, the host's for devices and CPUs. */}}
{{- $_ := set $metrics "roots" "/host/proc:/sys:/host/sys/fs/cgroup" }}
{{- end }}
{{- with .Values.metrics.labelsAllowlist }}{{ $_ := set $metrics "labelsAllowlist" . }}{{ end }}
{{- if .Values.metrics.gzip }}{{ $_ := set $metrics "gzip" true }}{{ end }}
{{- $logs := dict "tag" .Values.fluentd.tag "requireAck" .Values.fluentd.requireAck }}
{{- with .Values.fluentd.tls }}
{{- if .enabled }}
{{- $_ := set $logs "tls" true }}
{{- if .caSecret }}{{ $_ := set $logs "tlsCa" (printf "%s/fluentd-ca/%s" $s .caKey) }}{{ end }}
{{- if .clientSecret }}
{{- $_ := set $logs "tlsCert" (printf "%s/fluentd-client/tls.crt" $s) }}
{{- $_ := set $logs "tlsKey" (printf "%s/fluentd-client/tls.key" $s) }}
{{- end }}
{{- if .serverName }}{{ $_ := set $logs "tlsServername" .serverName }}{{ end }}
{{- end }}
{{- end }}
{{- if .Values.fluentd.sharedKey.existingSecret }}
{{- $_ := set $logs "sharedKeyFile" (printf "%s/fluentd-shared-key/%s" $s .Values.fluentd.sharedKey.key) }}
{{- end }}
{{- with .Values.fluentd.auth }}
{{- if .username }}{{ $_ := set $logs "username" .username }}{{ end }}
{{- if .passwordSecret }}{{ $_ := set $logs "passwordFile" (printf "%s/fluentd-password/%s" $s .passwordKey) }}{{ end }}
{{- end }}
{{- $cfg := dict "logs" $logs "dashboard" (dict "enabled" .Values.webDashboard.enabled) }}
{{- if $metrics }}{{ $_ := set $cfg "metrics" $metrics }}{{ end }}
{{- toPrettyJson (mustMergeOverwrite $cfg (deepCopy .Values.config)) }}
{{- end }}

{{/* Capabilities added back after dropping ALL. */}}
{{- define "berth.capabilities" -}}
{{- $caps := .Values.capabilities }}
{{- if or (and .Values.dns.enabled (lt (int .Values.dns.port) 1024)) (and .Values.metrics.enabled (lt (int .Values.metrics.port) 1024)) }}
{{- $caps = append $caps "NET_BIND_SERVICE" }}
{{- end }}
{{- toYaml (uniq $caps) }}
{{- end }}

{{/* The ConfigMap of service definitions, when services are declared (--services-dir). */}}
{{- define "berth.servicesConfigMap" -}}
{{- if .Values.servicesConfigMap }}{{ .Values.servicesConfigMap }}
{{- else if .Values.services }}{{ include "berth.fullname" . }}-services
{{- end }}
{{- end }}
