// Command load sends pages at a fixed rate for a fixed time, to loopback
// only, and prints pages/s, failures and latency percentiles. It sizes a
// composer replica together with bench/sizing.sh.
//
//	go run ./bench/load -url http://127.0.0.1:8080/ -rate 1000 -dur 20s
package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

func main() {
	target := flag.String("url", "http://127.0.0.1:8080/", "page to request (loopback only)")
	rate := flag.Int("rate", 1000, "pages per second")
	dur := flag.Duration("dur", 20*time.Second, "how long to send")
	conc := flag.Int("conc", 64, "most requests in flight")
	flag.Parse()
	u, err := url.Parse(*target)
	if err != nil || (u.Hostname() != "127.0.0.1" && u.Hostname() != "::1" && u.Hostname() != "localhost") {
		fmt.Fprintln(os.Stderr, "load: -url must be a loopback http URL")
		os.Exit(2)
	}
	client := &fasthttp.Client{MaxConnsPerHost: *conc, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	sem := make(chan struct{}, *conc)
	var mu sync.Mutex
	var lat []time.Duration
	failed, dropped := 0, 0
	var wg sync.WaitGroup
	// Ticks every 10ms, each sending what the rate owes since the start,
	// so the rate holds above what one timer per request can do.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	sent := 0
	for time.Since(start) < *dur {
		<-tick.C
		owed := int(time.Since(start).Seconds()*float64(*rate)) - sent
		for range owed {
			sent++
			send(sem, &wg, &mu, &failed, &dropped, &lat, client, *target)
		}
	}
	wg.Wait()
	el := time.Since(start)
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))]
	}
	fmt.Printf("pages %d in %.1fs (%.0f/s), failed %d, not sent (in-flight cap) %d, p50 %v, p99 %v\n",
		len(lat), el.Seconds(), float64(len(lat))/el.Seconds(), failed, dropped,
		pct(0.50).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond))
}

// send starts one request unless conc are in flight (then it counts one
// not sent: the composer cannot keep up, and queueing would hide it).
func send(sem chan struct{}, wg *sync.WaitGroup, mu *sync.Mutex, failed, dropped *int, lat *[]time.Duration, client *fasthttp.Client, target string) {
	select {
	case sem <- struct{}{}:
	default:
		mu.Lock()
		*dropped++
		mu.Unlock()
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() { <-sem }()
		defer func() {
			if p := recover(); p != nil {
				mu.Lock()
				*failed++
				mu.Unlock()
			}
		}()
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(target)
		t0 := time.Now()
		err := client.Do(req, resp)
		d := time.Since(t0)
		mu.Lock()
		defer mu.Unlock()
		if err != nil || resp.StatusCode() != 200 {
			*failed++
			return
		}
		*lat = append(*lat, d)
	}()
}
