"""The Python baseline of the dry-run benchmark: what a script in the
vendor's own sample style would do with the same file. Read the CSV, check
each row, drop duplicates, build each account's JSON, group by resource,
write a report. Usage: python3 baseline.py INPUT.csv REPORT.csv"""
import csv
import json
import sys

BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def main(path, out):
    groups = {}
    seen = set()
    report = []
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = csv.reader(f)
        header = [h.strip().upper() for h in next(rows)]
        col = {h: i for i, h in enumerate(header)}
        for n, row in enumerate(rows, start=2):
            rid = row[col["RESOURCEID"]].strip()
            name = row[col["ACCOUNTNAME"]]
            problems = []
            if not rid.isdigit() or int(rid) <= 0:
                problems.append("RESOURCEID")
            if not name or name != name.strip():
                problems.append("ACCOUNTNAME")
            acct = {"ACCOUNTNAME": name}
            for key in ("PASSWORD", "NOTES"):
                if key in col and row[col[key]]:
                    acct[key] = row[col[key]]
            if "ACCOUNTPASSWORDPOLICY" in col and row[col["ACCOUNTPASSWORDPOLICY"]].strip():
                acct["ACCOUNTPASSWORDPOLICY"] = row[col["ACCOUNTPASSWORDPOLICY"]].strip()
            if "RECORD_RDP_SESSIONS" in col and row[col["RECORD_RDP_SESSIONS"]].strip():
                b = BOOLS.get(row[col["RECORD_RDP_SESSIONS"]].strip().lower())
                if b is None:
                    problems.append("RECORD_RDP_SESSIONS")
                acct["RECORD_RDP_SESSIONS"] = b
            if "ACCOUNT_RESOURCE_GROUP_IDS" in col and row[col["ACCOUNT_RESOURCE_GROUP_IDS"]].strip():
                ids = [i.strip() for i in row[col["ACCOUNT_RESOURCE_GROUP_IDS"]].replace(",", ";").split(";")]
                if not all(i.isdigit() for i in ids):
                    problems.append("ACCOUNT_RESOURCE_GROUP_IDS")
                acct["ACCOUNT_RESOURCE_GROUP_IDS"] = ids
            key = (rid, name.lower())
            if not problems and key in seen:
                problems.append("duplicate")
            if problems:
                report.append((n, rid, name, "invalid", "; ".join(problems)))
                continue
            seen.add(key)
            groups.setdefault(rid, []).append(json.dumps(acct))
            report.append((n, rid, name, "planned", ""))
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["row", "org", "resource_id", "account_name", "outcome", "status", "http_status", "attempts", "message"])
        for n, rid, name, outcome, message in report:
            w.writerow([n, "", rid, name, outcome, "", "", 0, message])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
