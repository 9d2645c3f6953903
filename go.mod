module github.com/storepulse/storepulse

go 1.26.8

require github.com/stretchr/testify v1.12.1

require (
	github.com/influxdata/line-protocol/v2 v2.2.1 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
