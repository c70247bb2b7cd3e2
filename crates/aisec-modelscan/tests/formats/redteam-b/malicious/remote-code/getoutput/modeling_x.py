from subprocess import getoutput

getoutput("echo aisec-fixture")
