"""The five simulated agencies. Each module builds its own database, with its own schema,
column names, date formats and identifier habits, as real agencies have:

- courts: upper-case pinyin abbreviations (`BZXRMC`); dates `2023年03月05日`, timestamps
  `YYYY-MM-DD HH:MM:SS`; masked citizen IDs on the public list, org codes `XXXXXXXX-X`.
- tax: lower-case pinyin abbreviations (`nsrsbh`); dates as integers `20230305`, timestamps as
  epoch seconds; taxpayer number is the USCC or the legacy 15-character tax number.
- transport: CamelCase English (`PassengerName`); ISO 8601 with `+08:00`; an `IdType` with the
  ID or passport number, passenger names in airline pinyin (`ZHANG/WEI`).
- food: snake_case English (`licence_no`); `2023/03/05` and `2023/03/05 14:07`; JY licence
  numbers, USCC or the old registration number.
- tourism: upper-case English with underscores (`TOURIST_NAME`); dotted dates `2023.03.05`,
  timestamps `20230305140700`; a certificate type code (`111` identity card, `414` passport)
  with the certificate number, sex 男 / 女.
"""
