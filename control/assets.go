package control

import (
	"context"
	"encoding/json"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
)

// MaxAssetExtra bounds the key=values sent with an asset event.
const MaxAssetExtra = 64

// AssetEmit records an event of an asset from outside (the API, the CLI),
// with extra key=values, and starts the runs of the pipelines scheduled on
// assets that it completes. A key makes it once: the same key again
// returns the first event and starts nothing. by names who asked, for the
// log.
func (c *Control) AssetEmit(ctx context.Context, asset string, extra map[string]string, key, by string) (*store.AssetEventResult, error) {
	if !pipeline.ValidAssetName(asset) {
		return nil, sluice.Errorf(sluice.EINVALID, "asset %q is not a valid name: up to 128 letters, digits and _ . : / @ + = -, such as warehouse.orders", asset)
	}
	if len(extra) > MaxAssetExtra {
		return nil, sluice.Errorf(sluice.EINVALID, "an asset event takes at most %d extra values, got %d", MaxAssetExtra, len(extra))
	}
	if extra == nil {
		extra = map[string]string{}
	}
	raw, err := json.Marshal(extra)
	if err != nil {
		return nil, err
	}
	res, err := c.st.AssetEventCreate(ctx, &store.AssetEventCreateParams{Asset: asset, Extra: raw, Key: key})
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(res.Runs))
	for i, r := range res.Runs {
		ids[i] = r.ID
	}
	if res.Repeat {
		c.logger(ctx).Info("asset event sent again: the first one stands", "asset", asset, "event", res.Event.ID, "key", key, "by", by)
		return res, nil
	}
	c.logger(ctx).Info("asset event", "asset", asset, "event", res.Event.ID, "runs", ids, "by", by)
	return res, nil
}
