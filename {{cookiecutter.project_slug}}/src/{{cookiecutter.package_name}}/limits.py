"""What the database columns can hold. Models size their columns with these and the request
schemas enforce them, so input the database cannot store is a 422, never a 500."""

# Integer columns (SQLAlchemy `Integer`): 32-bit on PostgreSQL; SQLite is wider, the API is not.
INT32_MAX = 2**31 - 1

EMAIL_MAX_LENGTH = 320  # RFC 3696: 64 for the local part, @, 255 for the domain
PASSWORD_HASH_MAX_LENGTH = 255
FULL_NAME_MAX_LENGTH = 200
ITEM_TITLE_MAX_LENGTH = 200
ITEM_DESCRIPTION_MAX_LENGTH = 2000

# PostgreSQL text cannot hold NUL characters ("invalid byte sequence for encoding UTF8: 0x00").
NO_NUL_PATTERN = r"^[^\x00]*$"
