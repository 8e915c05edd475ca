"""DynamoDB: table and key schema, clients, and the one declaration of each function's permissions."""
