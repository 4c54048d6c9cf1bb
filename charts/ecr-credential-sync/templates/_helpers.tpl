{{- define "ecrsync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ecrsync.fullname" -}}
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

{{- define "ecrsync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ecrsync.name" . | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end }}

{{- define "ecrsync.labels" -}}
{{ include "ecrsync.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{- define "ecrsync.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ecrsync.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ecrsync.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The admission policies match every ServiceAccount of the release namespace, as the manifests do. */}}
{{- define "ecrsync.operatorUsers" -}}
request.userInfo.username.startsWith('system:serviceaccount:{{ .Release.Namespace }}:')
{{- end }}

{{- define "ecrsync.quotedAudiences" -}}
{{- $quoted := list }}
{{- range .Values.tokenAudiences }}{{ $quoted = append $quoted (printf "'%s'" .) }}{{ end }}
{{- join ", " $quoted }}
{{- end }}

{{- define "ecrsync.audienceWords" -}}
{{- $a := .Values.tokenAudiences }}
{{- if eq (len $a) 1 }}{{ first $a }}{{ else }}{{ join ", " (initial $a) }} and {{ last $a }}{{ end }}
{{- end }}
