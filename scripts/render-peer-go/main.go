// Peer figure for the exporter's /metrics render: Go client_golang with N series.
//
// Usage (built and run by scripts/render-peer-go.sh, which sets up the Debian GOPATH build):
//
//	render-peer N
//
// Builds N series of a GaugeVec shaped like the exporter's infrazen_resource_cost_per_hour
// (12 labels, deterministic values; scripts/render-peer.py builds the same series), times
// registry.Gather() plus expfmt text encoding into a buffer (best of 5) and prints
//
//	go_client_golang_render_seconds=<float>
//	bytes=<size of one exposition>
package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

type service struct{ name, category, resourceType, stem string }

type source struct {
	name, provider, currency string
	regions                  []string
	services                 []service
}

var sources = []source{
	{"aws-focus", "aws", "USD", []string{"us-east-1", "eu-west-1", "eu-central-1"}, []service{
		{"Amazon Elastic Compute Cloud", "compute", "instance", "web"},
		{"Amazon Simple Storage Service", "storage", "bucket", "assets"},
		{"Amazon Relational Database Service", "database", "db_instance", "pg"}}},
	{"yandex", "yandex", "RUB", []string{"ru-central1-a", "ru-central1-b", "ru-central1-d"}, []service{
		{"Compute Cloud", "compute", "server", "worker"},
		{"Object Storage", "storage", "bucket", "backups"},
		{"Managed Service for PostgreSQL", "database", "cluster", "db"}}},
	{"selectel", "selectel", "RUB", []string{"ru-1", "ru-7", "ru-9"}, []service{
		{"Cloud Servers", "compute", "server", "app"},
		{"Network Volumes", "storage", "volume", "vol"},
		{"Load Balancers", "network", "load_balancer", "lb"}}},
	{"gcp-billing", "gcp", "USD", []string{"europe-west1", "us-central1", "asia-east1"}, []service{
		{"Compute Engine", "compute", "instance", "node"},
		{"Cloud Storage", "storage", "bucket", "media"},
		{"Cloud SQL", "database", "db_instance", "sql"}}},
}

var envs = []string{"prod", "staging", "dev", ""}

// series returns the label values and value of series i (same formulas as render-peer.py).
func series(i int) ([]string, float64) {
	src := sources[i%4]
	svc := src.services[i/4%3]
	env := envs[i%7%4]
	currency := src.currency
	if i%20 == 0 {
		currency = "EUR"
	}
	nameEnv, tenant := env, fmt.Sprintf("t%d", i%200)
	if env == "" {
		nameEnv = "misc"
	}
	if i%9 == 0 {
		tenant = ""
	}
	labels := []string{src.name, src.provider, fmt.Sprintf("%012d", 100000000000+i%20*7919),
		src.regions[i%3], svc.name, svc.category, svc.resourceType,
		fmt.Sprintf("6f1c2a3b-%04x-4d5e-8f90-%012x", i%65536, i),
		fmt.Sprintf("%s-%s-%d", svc.stem, nameEnv, i), tenant, env, currency}
	value := float64(uint64(i)*2654435761%99999000000+1000000) / 1e8 // 0.01 .. 1000, 8 decimals
	return labels, value
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: render-peer N")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "render-peer: N must be an integer")
		os.Exit(2)
	}
	registry := prometheus.NewRegistry()
	gauge := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "infrazen_resource_cost_per_hour",
		Help: "Current run rate of one resource, billing-first, including volumes folded into it.",
	}, []string{"source", "provider", "account", "region", "service", "category", "resource_type",
		"resource_id", "resource_name", "tenant", "environment", "currency"})
	registry.MustRegister(gauge)
	for i := 0; i < n; i++ {
		labels, value := series(i)
		gauge.WithLabelValues(labels...).Set(value)
	}

	best, size := time.Duration(1<<62), 0
	var buf bytes.Buffer
	for run := 0; run < 5; run++ {
		buf.Reset()
		start := time.Now()
		families, err := registry.Gather()
		if err != nil {
			panic(err)
		}
		for _, mf := range families {
			if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
				panic(err)
			}
		}
		if d := time.Since(start); d < best {
			best = d
		}
		size = buf.Len()
	}
	fmt.Printf("go_client_golang_render_seconds=%.4f\n", best.Seconds())
	fmt.Printf("bytes=%d\n", size)
}
