package settings

import (
	"context"
	"fmt"
	"time"
)

// RevokedSessionPrefix starts the Redis key of each signed-out admin
// session; the key expires when the session would have.
const RevokedSessionPrefix = "tessera:session:revoked:"

// RevokeSession records that the admin session id was signed out, until
// it would have expired, so that every composer sharing the store refuses
// it. An in-process store keeps nothing and returns nil: the composer's
// own record of its sign-outs is then the only one there is.
func (s *Store) RevokeSession(ctx context.Context, id string, until time.Time) error {
	if s.rdb == nil {
		return nil
	}
	ttl := time.Until(until)
	if ttl <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.rdb.Set(ctx, RevokedSessionPrefix+id, "1", ttl.Round(time.Second)+time.Second).Err(); err != nil {
		s.failed(err)
		return fmt.Errorf("settings: revoke session: %w", err)
	}
	s.reached()
	return nil
}

// SessionRevoked reports whether the admin session id was signed out on
// any composer sharing the store: (false, nil) for one never revoked, and
// always for an in-process store.
func (s *Store) SessionRevoked(ctx context.Context, id string) (bool, error) {
	if s.rdb == nil {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	n, err := s.rdb.Exists(ctx, RevokedSessionPrefix+id).Result()
	if err != nil {
		s.failed(err)
		return false, fmt.Errorf("settings: session revoked: %w", err)
	}
	s.reached()
	return n > 0, nil
}
