-- The latest receive time (Unix ms) among a block's points, written when the block is packed: a read of
-- what arrived after a cursor (a JT/T 809 link's forwarding position, the alert rules resuming) skips a
-- block whose points all arrived before it, without reading or decoding the block. NULL for blocks
-- packed before this column existed: those are always read, and get a value when next repacked.
ALTER TABLE point_blocks ADD COLUMN received_last INTEGER;
