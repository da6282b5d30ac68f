package sql

// This file is the register of canvass processes sharing the database
// (0015_node.sql): a row per process, its heartbeat by the database's
// clock, and the interviews of nodes gone silent (InterviewFilter.
// NodeSilentFor).

import (
	"context"
	"fmt"

	"github.com/canvass/canvass/survey"
)

const sqlRegisterNode = `INSERT INTO node (name) VALUES ($1) RETURNING id`

// RegisterNode adds a process named name (for people: host, address) and
// returns its id, which its keypad interviews carry.
func (db *DB) RegisterNode(ctx context.Context, name string) (survey.NodeID, error) {
	var id survey.NodeID
	err := db.retry(ctx, func() error { return db.pool.QueryRow(ctx, sqlRegisterNode, name).Scan(&id) })
	if err != nil {
		return 0, fmt.Errorf("register node %s: %w", name, err)
	}
	return id, nil
}

const sqlTouchNode = `UPDATE node SET seen_at = now() WHERE id = $1`

// TouchNode records that node id is alive, now by the database's clock.
// No retry: the next heartbeat is the retry.
func (db *DB) TouchNode(ctx context.Context, id survey.NodeID) error {
	tag, err := db.pool.Exec(ctx, sqlTouchNode, id)
	if err == nil && tag.RowsAffected() == 0 {
		err = fmt.Errorf("no such node: %w", survey.NotFound)
	}
	if err != nil {
		return fmt.Errorf("heartbeat of node %d: %w", id, err)
	}
	return nil
}
