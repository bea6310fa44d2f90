package redistest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterTimeout bounds how long StartCluster waits for the cluster to
// settle and WaitPromoted for a failover.
const clusterTimeout = 60 * time.Second

// ClusterOptions shape a test cluster.
type ClusterOptions struct {
	// Masters is the number of masters (default 3, the least Redis allows).
	Masters int
	// Replicas is the number of replicas per master (default 0).
	Replicas int
	// NodeTimeout is cluster-node-timeout: how long a node may be
	// unreachable before the others mark it failed and promote its replica
	// (default 1s, so that failovers in tests take a second or two).
	NodeTimeout time.Duration
}

// Cluster is a Redis Cluster of redis-server processes owned by one test.
type Cluster struct {
	t     testing.TB
	Nodes []*Server
}

// StartCluster runs a Redis Cluster of cluster-enabled redis-server
// processes on free loopback ports, joins them with
// `redis-cli --cluster create`, and waits until every node reports
// cluster_state:ok. The processes are killed when the test ends.
func StartCluster(t testing.TB, o ClusterOptions) *Cluster {
	t.Helper()
	if o.Masters == 0 {
		o.Masters = 3
	}
	if o.NodeTimeout == 0 {
		o.NodeTimeout = time.Second
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		unavailable(t, "redis-cli not installed: apt-get install redis-tools")
		return nil
	}
	extra := []string{
		"--cluster-enabled", "yes",
		"--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", strconv.FormatInt(o.NodeTimeout.Milliseconds(), 10),
		// A replica whose master died while they were cut off still takes
		// over: tests kill masters on purpose.
		"--cluster-replica-validity-factor", "0",
	}
	c := &Cluster{t: t}
	n := o.Masters * (1 + o.Replicas)
	for range n {
		s := start(t, extra)
		if s == nil {
			return nil
		}
		c.Nodes = append(c.Nodes, s)
	}
	args := []string{"--cluster", "create"}
	for _, s := range c.Nodes {
		args = append(args, s.Addr())
	}
	args = append(args, "--cluster-replicas", strconv.Itoa(o.Replicas), "--cluster-yes")
	out, err := exec.Command(cli, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redistest: redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	c.WaitState(func(s ClusterState) bool { return s.OK && s.Masters == o.Masters && s.Replicas == o.Masters*o.Replicas })
	return c
}

// Addrs returns every node's host:port.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		addrs[i] = s.Addr()
	}
	return addrs
}

// URL returns a redis:// URL naming every node, in the form REDIS_URL
// accepts for a cluster (redis://node1?addr=node2&addr=node3).
func (c *Cluster) URL() string {
	addrs := c.Addrs()
	u := "redis://" + addrs[0]
	for i, a := range addrs[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + a
	}
	return u
}

// ClusterState is what the live nodes agree on.
type ClusterState struct {
	// OK is true when every live node reports cluster_state:ok.
	OK bool
	// Masters and Replicas count the live nodes in each role.
	Masters, Replicas int
	// MasterAddrs are the live masters' addresses.
	MasterAddrs []string
}

// State asks every running node for its role and cluster state.
func (c *Cluster) State() ClusterState {
	c.t.Helper()
	st := ClusterState{OK: true}
	live := 0
	for _, s := range c.Nodes {
		if !s.Running() {
			continue
		}
		live++
		info, role, err := s.clusterInfo()
		if err != nil {
			st.OK = false
			continue
		}
		if !strings.Contains(info, "cluster_state:ok") {
			st.OK = false
		}
		switch role {
		case "master":
			st.Masters++
			st.MasterAddrs = append(st.MasterAddrs, s.Addr())
		case "slave":
			st.Replicas++
		}
	}
	if live == 0 {
		st.OK = false
	}
	return st
}

// WaitState polls State until cond holds, or fails the test after a minute.
func (c *Cluster) WaitState(cond func(ClusterState) bool) ClusterState {
	c.t.Helper()
	deadline := time.Now().Add(clusterTimeout)
	for {
		st := c.State()
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("redistest: cluster did not reach the expected state within %v; last: %+v", clusterTimeout, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Master returns the i-th running master.
func (c *Cluster) Master(i int) *Server {
	c.t.Helper()
	st := c.State()
	if i >= len(st.MasterAddrs) {
		c.t.Fatalf("redistest: no master %d (masters: %v)", i, st.MasterAddrs)
	}
	for _, s := range c.Nodes {
		if s.Addr() == st.MasterAddrs[i] {
			return s
		}
	}
	return nil
}

// SlotOwner returns the address of the master that serves key, as the
// cluster itself says.
func (c *Cluster) SlotOwner(key string) string {
	c.t.Helper()
	for _, s := range c.Nodes {
		if !s.Running() {
			continue
		}
		cl := s.shortClient()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		slot, err := cl.ClusterKeySlot(ctx, key).Result()
		var shards []redis.ClusterShard
		if err == nil {
			shards, err = cl.ClusterShards(ctx).Result()
		}
		cancel()
		_ = cl.Close()
		if err != nil {
			continue
		}
		for _, sh := range shards {
			for _, r := range sh.Slots {
				if int64(r.Start) > slot || slot > int64(r.End) {
					continue
				}
				for _, n := range sh.Nodes {
					if n.Role == "master" && n.Health == "online" {
						return net.JoinHostPort(n.IP, strconv.FormatInt(n.Port, 10))
					}
				}
			}
		}
	}
	c.t.Fatalf("redistest: no live node knows the owner of %q", key)
	return ""
}

// Running reports whether the server's process is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil
}

func (s *Server) shortClient() *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:         s.Addr(),
		DialTimeout:  500 * time.Millisecond,
		ReadTimeout:  500 * time.Millisecond,
		WriteTimeout: 500 * time.Millisecond,
		MaxRetries:   -1,
		PoolSize:     1,
	})
}

// clusterInfo returns CLUSTER INFO and the node's role.
func (s *Server) clusterInfo() (info, role string, err error) {
	cl := s.shortClient()
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	info, err = cl.ClusterInfo(ctx).Result()
	if err != nil {
		return "", "", fmt.Errorf("cluster info on %s: %w", s.Addr(), err)
	}
	r, err := cl.Do(ctx, "ROLE").Slice()
	if err != nil || len(r) == 0 {
		return "", "", fmt.Errorf("role on %s: %v", s.Addr(), err)
	}
	role, _ = r[0].(string)
	return info, role, nil
}
