{{- /*
    Names and labels of the platform's objects, and the names of the z2jh objects they use.

    z2jh's own objects are named from `jupyterhub.fullnameOverride` ("" by default: plain
    `hub`, `proxy-public`, ...). The names below follow the same rule so that this chart's
    templates render on their own, without z2jh's named templates.
*/}}

{{- /* Prefix of z2jh's object names: "" or "<fullnameOverride>-". */}}
{{- define "mllab.z2jh.prefix" -}}
{{- with (.Values.jupyterhub | default dict).fullnameOverride }}{{ . }}-{{ end }}
{{- end }}

{{- /* z2jh's hub Secret, holding the services' generated API tokens. */}}
{{- define "mllab.z2jh.hubSecret" -}}
{{- include "mllab.z2jh.prefix" . }}hub
{{- end }}

{{- /* Key in the hub Secret of the API token of service $name (z2jh's naming). */}}
{{- define "mllab.z2jh.tokenKey" -}}
hub.services.{{ . }}.apiToken
{{- end }}

{{- /* The hub's API as pods reach it. */}}
{{- define "mllab.z2jh.hubApiUrl" -}}
http://{{ include "mllab.z2jh.prefix" . }}hub:8081/hub/api
{{- end }}

{{- /* The proxy's public Service as pods reach it: the platform's URL inside the cluster. */}}
{{- define "mllab.z2jh.platformUrl" -}}
http://{{ include "mllab.z2jh.prefix" . }}proxy-public/
{{- end }}

{{- /* Labels selecting z2jh's proxy pods (its legacy labels, on every z2jh 4 pod). */}}
{{- define "mllab.z2jh.proxySelector" -}}
component: proxy
release: {{ .Release.Name }}
{{- end }}

{{- /* Labels selecting z2jh's hub pod. */}}
{{- define "mllab.z2jh.hubSelector" -}}
component: hub
release: {{ .Release.Name }}
{{- end }}

{{- /* Labels of every object of this chart; call with (list $ "<component>"). */}}
{{- define "mllab.labels" -}}
{{- $ := index . 0 -}}
{{ include "mllab.selector" . }}
app.kubernetes.io/part-of: mllab
app.kubernetes.io/managed-by: {{ $.Release.Service }}
app.kubernetes.io/version: {{ $.Chart.AppVersion | quote }}
helm.sh/chart: {{ $.Chart.Name }}-{{ $.Chart.Version | replace "+" "_" }}
{{- end }}

{{- /* Labels that select a component's pods; call with (list $ "<component>"). */}}
{{- define "mllab.selector" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/name: mllab
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- /* The image of the platform's service pods. */}}
{{- define "mllab.image" -}}
{{ .Values.image.name }}:{{ .Values.image.tag }}
{{- end }}

{{- /* PostgreSQL host. */}}
{{- define "mllab.postgresql.host" -}}
{{- if .Values.postgresql.bundled }}mllab-postgresql{{ else }}{{ required "postgresql.host is required when postgresql.bundled is false" .Values.postgresql.host }}{{ end }}
{{- end }}

{{- /* The services' database URL, without its password (libpq reads $PGPASSWORD). */}}
{{- define "mllab.postgresql.url" -}}
{{- $p := .Values.postgresql -}}
postgresql+psycopg://{{ $p.user }}@{{ include "mllab.postgresql.host" . }}:{{ $p.port }}/{{ $p.database }}
{{- with $p.sslmode }}?sslmode={{ . }}{{ end }}
{{- end }}

{{- /* Secret and key of the PostgreSQL password. */}}
{{- define "mllab.postgresql.secret" -}}
{{- if .Values.postgresql.bundled }}mllab-postgresql{{ else }}{{ required "postgresql.existingSecret is required when postgresql.bundled is false" .Values.postgresql.existingSecret }}{{ end }}
{{- end }}

{{- /* The S3 endpoint as the registry reaches it ("" for AWS). */}}
{{- define "mllab.s3.endpointUrl" -}}
{{- if .Values.s3.endpointUrl }}{{ .Values.s3.endpointUrl }}{{ else if .Values.s3.bundled }}http://mllab-minio:9000{{ end }}
{{- end }}

{{- /* Secret of the S3 keys ("" when boto3 finds its own). */}}
{{- define "mllab.s3.secret" -}}
{{- if .Values.s3.bundled }}mllab-minio{{ else }}{{ .Values.s3.existingSecret }}{{ end }}
{{- end }}

{{- /*
    A generated secret value, kept across upgrades: the value already in Secret $name under
    $key, else a new random one. Call with (list $ "<secret name>" "<key>").
*/}}
{{- define "mllab.generated" -}}
{{- $ := index . 0 }}
{{- $existing := lookup "v1" "Secret" $.Release.Namespace (index . 1) | default dict }}
{{- $data := $existing.data | default dict }}
{{- if hasKey $data (index . 2) }}
{{- index $data (index . 2) | b64dec }}
{{- else }}
{{- randAlphaNum 40 }}
{{- end }}
{{- end }}

{{- /*
    The environment of a platform service's pod: JupyterHub's own service variables (as the
    hub sets them for a service it starts), its token from z2jh's hub Secret, the database
    password for libpq. Call with (list $ "<service name>").
*/}}
{{- define "mllab.serviceEnv" -}}
{{- $ := index . 0 }}
{{- $name := index . 1 }}
- name: JUPYTERHUB_SERVICE_NAME
  value: {{ $name }}
- name: JUPYTERHUB_API_URL
  value: {{ include "mllab.z2jh.hubApiUrl" $ }}
- name: JUPYTERHUB_API_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "mllab.z2jh.hubSecret" $ }}
      key: {{ include "mllab.z2jh.tokenKey" $name }}
- name: JUPYTERHUB_CLIENT_ID
  value: service-{{ $name }}
- name: JUPYTERHUB_SERVICE_PREFIX
  value: /services/{{ $name }}/
- name: JUPYTERHUB_OAUTH_CALLBACK_URL
  value: /services/{{ $name }}/oauth_callback
- name: PGPASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "mllab.postgresql.secret" $ }}
      key: {{ $.Values.postgresql.passwordKey }}
{{- end }}

{{- /* The pod-level security of the platform's pods: non-root, the runtime's seccomp profile. */}}
{{- define "mllab.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- /* The container-level security of the platform's containers. */}}
{{- define "mllab.containerSecurityContext" -}}
allowPrivilegeEscalation: false
capabilities:
  drop: [ALL]
{{- end }}
