"""Routes of the staff console, one module per area; handlers stay thin over akto_data."""
