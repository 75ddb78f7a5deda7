"""Models: loading (hub id, local path or embedded alias), RM inputs, Lightning modules."""
