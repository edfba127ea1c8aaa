// cadvisor-raw: cAdvisor's own library (manager, raw cgroup container factory,
// Prometheus collector) behind a small main, for berth's parity test and the
// vs-cadvisor benchmark. cAdvisor's daemon (cmd/) is a module the Go proxy
// does not serve at the versions that still ship the library, so this main
// does what cmd/cadvisor.go does for /metrics and nothing else: no Docker,
// containerd, CRI-O or Podman factories (their install packages are not
// imported), no web UI, no storage drivers.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/google/cadvisor/cache/memory"
	"github.com/google/cadvisor/container"
	// Filesystem plugins, as cAdvisor's daemon registers them (cmd/cadvisor.go):
	// without them the fs package knows no filesystem and the root container
	// has no container_fs_limit_bytes / _usage_bytes / _inodes_*.
	_ "github.com/google/cadvisor/fs/btrfs/install"
	_ "github.com/google/cadvisor/fs/devicemapper/install"
	_ "github.com/google/cadvisor/fs/nfs/install"
	_ "github.com/google/cadvisor/fs/overlay/install"
	_ "github.com/google/cadvisor/fs/tmpfs/install"
	_ "github.com/google/cadvisor/fs/vfs/install"
	_ "github.com/google/cadvisor/fs/zfs/install"
	v2 "github.com/google/cadvisor/info/v2"
	"github.com/google/cadvisor/manager"
	"github.com/google/cadvisor/metrics"
	"github.com/google/cadvisor/utils/sysfs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "host:port to serve /metrics on")
	// -housekeeping_interval, -max_housekeeping_interval, -allow_dynamic_housekeeping,
	// -container_hints, -docker_only and the rest are the library's own flags
	// (declared in its packages on flag.CommandLine) with cAdvisor's defaults.
	storageDuration := flag.Duration("storage_duration", 2*time.Minute, "how long stats are kept in memory (cAdvisor's default 2m)")
	prefixes := flag.String("raw_cgroup_prefix_whitelist", "", "comma-separated cgroup path prefixes the raw factory accepts; empty accepts every cgroup (cAdvisor's default)")
	// cAdvisor's daemon default is every metric kind but advtcp, cpu_topology,
	// cpuset, hugetlb, memory_numa, process, referenced_memory, resctrl, sched,
	// tcp, udp (docs/runtime_options.md, --disable_metrics).
	enabled := container.AllMetrics.Difference(container.MetricSet{
		container.NetworkAdvancedTcpUsageMetrics: {}, container.CPUTopologyMetrics: {}, container.CPUSetMetrics: {},
		container.HugetlbUsageMetrics: {}, container.MemoryNumaMetrics: {}, container.ProcessMetrics: {},
		container.ReferencedMemoryMetrics: {}, container.ResctrlMetrics: {}, container.ProcessSchedulerMetrics: {},
		container.NetworkTcpUsageMetrics: {}, container.NetworkUdpUsageMetrics: {},
	})
	flag.Var(&enabled, "enable_metrics", "comma-separated metric kinds to collect (replaces the default set)")
	showVersion := flag.Bool("version", false, "print cAdvisor's library version and exit")
	klog.InitFlags(nil)
	flag.Parse()
	if *showVersion {
		fmt.Println(libraryVersion())
		return
	}

	whitelist := []string{""}
	if *prefixes != "" {
		whitelist = splitComma(*prefixes)
	}
	cache := memory.New(*storageDuration, nil)
	m, err := manager.New(cache, sysfs.NewRealSysFs(),
		manager.HousekeepingConfigFlags,
		enabled, http.DefaultClient, whitelist, nil, "", 0)
	if err != nil {
		log.Fatalf("cadvisor: manager: %v", err)
	}
	if err := m.Start(); err != nil {
		log.Fatalf("cadvisor: start: %v", err)
	}

	// As cmd/internal/http/handlers.go registers it: the container collector
	// with the default labels (id, name, image, container_label_*), the
	// machine collector, Go and process metrics.
	reg := prometheus.NewRegistry()
	opts := v2.RequestOptions{IdType: v2.TypeName, Count: 1, Recursive: true}
	reg.MustRegister(
		metrics.NewPrometheusCollector(m, metrics.DefaultContainerLabels, enabled, clock.RealClock{}, opts),
		metrics.NewPrometheusMachineCollector(m, enabled),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
			log.Fatalf("cadvisor: listen %s: %v", *listen, err)
		}
	}()
	fmt.Printf("cadvisor %s listening on %s\n", libraryVersion(), *listen)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	_ = srv.Close()
	_ = m.Stop()
}

func splitComma(s string) []string {
	out := []string{}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// libraryVersion is the cAdvisor module version this binary was built from
// (its version package is filled by ldflags in cAdvisor's own build only).
func libraryVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/google/cadvisor" {
				return dep.Version
			}
		}
	}
	return "unknown"
}
