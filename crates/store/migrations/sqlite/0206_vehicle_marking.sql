-- The marking number (标识号) painted on an official car, which the public often names instead of the
-- plate; complaints resolve it like a plate.
ALTER TABLE vehicles ADD COLUMN marking TEXT;
