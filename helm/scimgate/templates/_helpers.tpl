{{/* The chart's name, or nameOverride. */}}
{{- define "scimgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name (63 characters at most: DNS label). */}}
{{- define "scimgate.fullname" -}}
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

{{- define "scimgate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "scimgate.labels" -}}
helm.sh/chart: {{ include "scimgate.chart" . }}
{{ include "scimgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that pick this release's objects. */}}
{{- define "scimgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "scimgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The gateway's pods only (not the migration Job's). */}}
{{- define "scimgate.gatewaySelectorLabels" -}}
{{ include "scimgate.selectorLabels" . }}
app.kubernetes.io/component: gateway
{{- end }}

{{- define "scimgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "scimgate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "scimgate.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{- define "scimgate.secretName" -}}
{{- .Values.secret.existingSecret | default (include "scimgate.fullname" .) }}
{{- end }}

{{/*
The Secret's keys, each with the value it is created from and the variable that names its file.
*/}}
{{- define "scimgate.secretKeyTable" -}}
database-url: [databaseUrl, SCIMGATE_DATABASE_URL_FILE]
token-hash-key: [tokenHashKey, SCIMGATE_TOKEN_HASH_KEY_FILE]
admin-jwt-hs256-secret: [adminJwtHs256Secret, SCIMGATE_ADMIN_JWT_HS256_SECRET_FILE]
idp-jwt-hs256-secret: [idpJwtHs256Secret, SCIMGATE_IDP_JWT_HS256_SECRET_FILE]
login-caller-token: [loginCallerToken, SCIMGATE_LOGIN_CALLER_TOKEN_FILE]
{{- end }}

{{/*
The Secret keys the gateway reads, comma-separated. database-url always: without it scimgate would
fall back to a SQLite file on a read-only disk, and the missing file names the problem better.
*/}}
{{- define "scimgate.secretKeys" -}}
{{- $keys := list "database-url" }}
{{- if .Values.secret.existingSecret }}
{{- $keys = concat $keys .Values.secret.existingSecretKeys }}
{{- else }}
{{- range $key, $row := include "scimgate.secretKeyTable" . | fromYaml }}
{{- if index $.Values.secret (index $row 0) }}
{{- $keys = append $keys $key }}
{{- end }}
{{- end }}
{{- end }}
{{- $keys | uniq | join "," }}
{{- end }}

{{/* Environment naming the mounted secret files. */}}
{{- define "scimgate.secretEnv" -}}
{{- $table := include "scimgate.secretKeyTable" . | fromYaml }}
{{- $env := list }}
{{- range $key := include "scimgate.secretKeys" . | splitList "," | compact }}
{{- $env = append $env (dict "name" (index $table $key 1) "value" (printf "/etc/scimgate/secrets/%s" $key)) }}
{{- end }}
{{- toYaml $env }}
{{- end }}

{{/* Volumes both the gateway and the migration Job mount. */}}
{{- define "scimgate.commonVolumes" -}}
- name: secrets
  secret:
    secretName: {{ include "scimgate.secretName" . }}
    defaultMode: 0440
{{- with .Values.database }}
{{- if .caSecret }}
- name: db-ca
  secret:
    secretName: {{ .caSecret }}
    defaultMode: 0444
    items:
      - key: {{ .caKey }}
        path: {{ .caKey }}
{{- else if .caConfigMap }}
- name: db-ca
  configMap:
    name: {{ .caConfigMap }}
    defaultMode: 0444
    items:
      - key: {{ .caKey }}
        path: {{ .caKey }}
{{- end }}
{{- end }}
{{- end }}

{{- define "scimgate.commonVolumeMounts" -}}
- name: secrets
  mountPath: /etc/scimgate/secrets
  readOnly: true
{{- if or .Values.database.caSecret .Values.database.caConfigMap }}
- name: db-ca
  mountPath: /etc/scimgate/db-ca
  readOnly: true
{{- end }}
{{- end }}

{{/* SCIMGATE_PUBLIC_URL: the value, else the first ingress host over https, else the Service. */}}
{{- define "scimgate.publicUrl" -}}
{{- if .Values.config.publicUrl }}
{{- .Values.config.publicUrl | trimSuffix "/" }}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts }}
{{- printf "https://%s" (index .Values.ingress.hosts 0).host }}
{{- else }}
{{- printf "http://%s.%s.svc:%v" (include "scimgate.fullname" .) .Release.Namespace .Values.service.port }}
{{- end }}
{{- end }}

{{/* Whether the public-key ConfigMap has anything to hold. */}}
{{- define "scimgate.hasKeyFiles" -}}
{{- if or .Values.config.adminJwt.keys .Values.config.idp.jwks }}true{{ end }}
{{- end }}

{{- define "scimgate.terminationGracePeriodSeconds" -}}
{{- with .Values.config }}
{{- add .shutdownDelaySeconds .shutdownGraceSeconds .terminationMarginSeconds }}
{{- end }}
{{- end }}

{{/*
Refuses, at render time, the combinations scimgate would refuse at start (README "Configuration").
*/}}
{{- define "scimgate.validate" -}}
{{- $keys := include "scimgate.secretKeys" . | splitList "," }}
{{- $admin := .Values.config.adminJwt }}
{{- $idp := .Values.config.idp }}
{{- if and $admin.keys (has "admin-jwt-hs256-secret" $keys) }}
{{- fail "config.adminJwt.keys and an admin HS256 secret: set one (two trust roots would let an HS256 token through)" }}
{{- end }}
{{- if and $admin.keys (not $admin.issuer) }}
{{- fail "config.adminJwt.issuer is required with config.adminJwt.keys" }}
{{- end }}
{{- $sources := 0 }}
{{- range (list $idp.jwksUrl $idp.jwks (has "idp-jwt-hs256-secret" $keys)) }}
{{- if . }}{{ $sources = add1 $sources }}{{ end }}
{{- end }}
{{- if gt $sources 1 }}
{{- fail "set one of config.idp.jwksUrl, config.idp.jwks and the IdP HS256 secret, not several" }}
{{- end }}
{{- if and (eq $sources 1) (not (and $idp.issuer $idp.audience)) }}
{{- fail "config.idp.issuer and config.idp.audience are required with an IdP key source" }}
{{- end }}
{{- if and $idp.audience (eq $idp.audience $admin.audience) }}
{{- fail "config.idp.audience must differ from config.adminJwt.audience" }}
{{- end }}
{{- if and .Values.secret.idpJwtHs256Secret (eq .Values.secret.idpJwtHs256Secret .Values.secret.adminJwtHs256Secret) }}
{{- fail "secret.idpJwtHs256Secret must differ from secret.adminJwtHs256Secret" }}
{{- end }}
{{- if and .Values.database.caSecret .Values.database.caConfigMap }}
{{- fail "database.caSecret and database.caConfigMap: give one" }}
{{- end }}
{{- end }}
