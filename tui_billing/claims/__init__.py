"""The claim cycle: what a claim says (model), the scrubber, the 837P and CMS-1500 writers,
acknowledgements and remittances. Pure code here; the store reads and records claims."""
